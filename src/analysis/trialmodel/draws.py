"""A fit's draws without ArviZ: nutpie's sampler driven directly, the draws kept as xarray
Datasets, and the fit file written in ArviZ's netCDF layout.

``nutpie.sample`` converts its trace with ArviZ, whose import (about 1.5 s: plotting and a numba
ufunc compiled at import) is most of what a cold ``python -m analysis fit`` waited for. Here
the native density (:mod:`analysis.trialmodel.native`) runs on nutpie's compiled module
(``nutpie._lib``) loaded on its own, and the trace becomes :class:`Draws`: the groups this
project reads (``posterior``, ``sample_stats``, later ``log_likelihood``) with the same
variables, dimensions, coordinates and values as nutpie's InferenceData (same seed, same
draws; ``tests/test_draws.py`` holds them equal). :meth:`Draws.to_netcdf` writes the file ArviZ
writes (root attributes and one compressed netCDF group per group, read back by
``arviz.from_netcdf``); :meth:`Draws.to_arviz` hands the draws to ArviZ where ArviZ's own
algorithms are wanted (PSIS-LOO).
"""

from __future__ import annotations

import datetime
import importlib.machinery
import importlib.util
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

#: Sampler statistics nutpie leaves out unless asked to store them (as ``nutpie.sample``).
_UNSTORED_STATS = {
    "store_gradient": ("gradient",),
    "store_unconstrained": ("unconstrained_draw",),
    "store_mass_matrix": ("mass_matrix_inv", "mass_matrix_eigvals", "mass_matrix_stds"),
    "store_divergences": (
        "divergence_start",
        "divergence_end",
        "divergence_momentum",
        "divergence_start_gradient",
    ),
}
#: The names of ``nutpie._lib`` this module drives (no public nutpie interface samples a C
#: log density without ArviZ); :func:`check_lib` names any a nutpie release has moved.
LIB_NAMES = (
    "LogpFunc",
    "ExpandFunc",
    "PyVariable",
    "PyMcModel",
    "PySampler",
    "PyNutsSettings",
    "PyStorage",
    "ProgressType",
)


def nutpie_lib():
    """nutpie's compiled sampler (``nutpie._lib``), loaded without running nutpie's package
    (whose ``__init__`` imports ArviZ). A later ``import nutpie`` reuses this module."""
    if "nutpie._lib" in sys.modules:
        return sys.modules["nutpie._lib"]
    spec = importlib.util.find_spec("nutpie")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("nutpie is not installed; run `make env`")
    folder = Path(next(iter(spec.submodule_search_locations)))
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    found = [p for p in folder.glob("_lib*") if any(p.name.endswith(s) for s in suffixes)]
    if not found:
        raise ImportError(f"nutpie's compiled module (_lib) is missing from {folder}")
    loader = importlib.machinery.ExtensionFileLoader("nutpie._lib", str(found[0]))
    lib_spec = importlib.util.spec_from_file_location("nutpie._lib", found[0], loader=loader)
    lib = importlib.util.module_from_spec(lib_spec)
    sys.modules["nutpie._lib"] = lib
    lib_spec.loader.exec_module(lib)
    return lib


def check_lib() -> None:
    """Raise ImportError naming every ``nutpie._lib`` name this module needs that is missing."""
    lib = nutpie_lib()
    missing = [n for n in LIB_NAMES if not hasattr(lib, n)]
    if missing:
        raise ImportError(
            f"nutpie {metadata.version('nutpie')} lacks {', '.join(missing)} in nutpie._lib; "
            "install the version in requirements.lock"
        )


@dataclass
class Draws:
    """The groups of a fit as xarray Datasets, with the fit's attributes: the part of
    ``arviz.InferenceData`` this project uses (``idata.posterior``, ``idata["sample_stats"]``,
    ``groups()``, ``add_groups``, ``attrs``, ``copy``, ``to_netcdf``)."""

    group_data: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)

    def __getattr__(self, name):
        groups = self.__dict__.get("group_data", {})
        if name in groups:
            return groups[name]
        raise AttributeError(f"{type(self).__name__} has no group or attribute {name!r}")

    def __getitem__(self, group: str):
        return self.group_data[group]

    def __contains__(self, group: str) -> bool:
        return group in self.group_data

    def groups(self) -> list[str]:
        """The group names, in order."""
        return list(self.group_data)

    def add_groups(self, **groups) -> None:
        """Add (or replace) groups in place."""
        self.group_data.update(groups)

    def copy(self) -> Draws:
        """A copy whose groups can be added to independently (the Datasets are shared)."""
        return Draws(dict(self.group_data), dict(self.attrs))

    def to_netcdf(self, path) -> str:
        """Write the file ``arviz.InferenceData.to_netcdf`` writes: the attributes on the root
        group, then each group zlib-compressed in its own netCDF-4 group.

        Written straight with h5py in netCDF-4's layout (dimension scales with netCDF's
        dimension ids, compressed variables attached to them, ``_FillValue`` on floats, flags
        as ``int8`` marked ``bool``), as xarray's h5netcdf writer lays it out, at a tenth of its
        cost; ArviZ and xarray read it back identical (``tests/test_draws.py``). A group with
        what this writer does not lay out (coordinates that are not dimensions, times) goes
        through xarray."""
        import h5py

        path = str(path)
        if all(_plain(ds) for ds in self.group_data.values()):
            try:
                with h5py.File(path, "w") as f:
                    f.attrs["_NCProperties"] = np.bytes_(
                        f"version=2,h5py={h5py.__version__},"
                        f"hdf5={h5py.version.hdf5_version}".encode()
                    )
                    _write_attributes(f, self.attrs)
                    dim_id = 0
                    for name, ds in self.group_data.items():
                        group = f.create_group(name, track_order=True)
                        dim_id = _write_group(group, ds, dim_id)
                return path
            except (TypeError, ValueError):  # a value h5py cannot store as given (xarray can)
                pass
        return self._to_netcdf_xarray(path)

    def _to_netcdf_xarray(self, path: str) -> str:
        """:meth:`to_netcdf` through xarray's writer (h5netcdf)."""
        import xarray as xr

        mode = "w"
        if self.attrs:
            xr.Dataset(attrs=self.attrs).to_netcdf(path, mode=mode, engine="h5netcdf", group="/")
            mode = "a"
        for name, ds in self.group_data.items():
            encoding = {
                v: {"zlib": True} for v, var in ds.variables.items() if _compressible(var.dtype)
            }
            ds.to_netcdf(path, mode=mode, group=f"/{name}", engine="h5netcdf", encoding=encoding)
            mode = "a"
        return path

    @classmethod
    def from_netcdf(cls, path, groups=None) -> Draws:
        """Read a fit file (:meth:`to_netcdf`'s or ArviZ's layout): the named ``groups`` (all
        by default), decoded as ``arviz.from_netcdf`` decodes them (``tests/test_draws.py``
        holds them equal), read straight from HDF5. ``arviz.from_netcdf`` goes through
        xarray's and h5netcdf's readers, 50-100 ms per file, most of it resolving
        dimensions; this takes a few milliseconds."""
        import h5py

        with h5py.File(path, "r") as f:
            names = [g for g in f if isinstance(f[g], h5py.Group)] if groups is None else groups
            missing = [g for g in names if g not in f]
            if missing:
                raise KeyError(f"{path}: no group {', '.join(missing)} in the fit file")
            return cls({g: _read_group(f[g]) for g in names}, _attributes(f.attrs))

    def to_arviz(self):
        """The same groups and attributes as an ``arviz.InferenceData`` (imports ArviZ)."""
        az = import_arviz()

        out = az.InferenceData(**self.group_data)
        out.attrs.update(self.attrs)
        return out

    @classmethod
    def from_arviz(cls, idata) -> Draws:
        """The groups and attributes of an ``arviz.InferenceData``."""
        return cls({g: idata[g] for g in idata.groups()}, dict(idata.attrs))


def import_arviz():
    """ArviZ, with its numba kernels switched off: they compile in every process (~1.3 s) to
    save milliseconds on draws of this size."""
    import arviz as az
    from arviz.utils import Numba

    if Numba.numba_flag:
        Numba.disable_numba()
    return az


def as_arviz(idata):
    """``idata`` as an ``arviz.InferenceData`` (converted when it is :class:`Draws`)."""
    return idata.to_arviz() if isinstance(idata, Draws) else idata


#: HDF5 and netCDF bookkeeping attributes: not the data's (xarray moves ``_FillValue`` to the
#: encoding).
_INTERNAL_ATTRIBUTES = {
    "CLASS",
    "NAME",
    "DIMENSION_LIST",
    "REFERENCE_LIST",
    "_Netcdf4Dimid",
    "_Netcdf4Coordinates",
    "_NCProperties",
    "_FillValue",
    "dtype",
}
#: How netCDF marks a dimension that has no coordinate values.
_DIMENSION_ONLY = b"This is a netCDF dimension but not a netCDF variable"


def _attributes(attrs) -> dict:
    """HDF5 attributes as xarray decodes them: one-element arrays become scalars."""
    out = {}
    for key, value in attrs.items():
        if key in _INTERNAL_ATTRIBUTES:
            continue
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.reshape(-1)[0]
        elif isinstance(value, np.ndarray) and value.dtype.kind in "OS":  # texts: a list
            value = [x.decode() if isinstance(x, bytes) else x for x in value.tolist()]
        out[key] = value.decode() if isinstance(value, bytes) else value
    return out


def _read_group(group):
    """One netCDF group as an xarray Dataset: dimension scales become coordinates, every other
    dataset a variable on the dimensions it is attached to."""
    import h5py
    import xarray as xr

    def values(ds):
        if h5py.check_string_dtype(ds.dtype) is not None:
            return np.array(ds.asstr()[()].tolist(), dtype=str)
        out = ds[()]
        return out.astype(bool) if ds.attrs.get("dtype") == "bool" else out

    scales = {n: d for n, d in group.items() if d.attrs.get("CLASS") == b"DIMENSION_SCALE"}
    coords = {
        n: values(d)
        for n, d in scales.items()
        if not bytes(d.attrs.get("NAME", b"")).startswith(_DIMENSION_ONLY)
    }
    data = {
        n: (
            [d.dims[i][0].name.rsplit("/", 1)[-1] for i in range(d.ndim)],
            values(d),
            _attributes(d.attrs),
        )
        for n, d in group.items()
        if n not in scales
    }
    return xr.Dataset(data, coords=coords, attrs=_attributes(group.attrs))


def _plain(ds) -> bool:
    """Whether :func:`_write_group` lays ``ds`` out: every coordinate a dimension's, every
    variable numbers, flags or text."""
    if any(c not in ds.dims for c in ds.coords):
        return False
    for var in ds.variables.values():
        if var.dtype.kind not in "biuf" and not (
            var.dtype.kind in "UO" and all(isinstance(x, str) for x in var.values.ravel())
        ):
            return False
    return True


def _write_attributes(obj, attrs: dict) -> None:
    """Attributes as xarray's writer stores them: text as text, numbers as one-element (or
    longer) arrays."""
    for key, value in attrs.items():
        obj.attrs[key] = value if isinstance(value, str) else np.atleast_1d(value)


def _write_group(group, ds, dim_id: int) -> int:
    """One Dataset into an HDF5 group in netCDF-4's layout; returns the next dimension id
    (netCDF numbers dimensions across the whole file)."""
    import h5py

    def create(name, values):
        values = np.asarray(values)
        kwargs = {}
        if values.dtype.kind in "UO":
            values = values.astype(object)
            kwargs["dtype"] = h5py.string_dtype()
        elif values.dtype.kind == "b":
            values = values.astype(np.int8)
        if _compressible(values.dtype) and values.size:
            kwargs.update(compression="gzip", compression_opts=4)
        if values.dtype.kind == "f":
            kwargs["fillvalue"] = np.nan
        return group.create_dataset(name, data=values, **kwargs)

    _write_attributes(group, ds.attrs)
    ids, scales = {}, {}
    for dim, size in ds.sizes.items():
        if dim in ds.coords:
            scale = create(dim, ds[dim].values)
            scale.make_scale(dim)
            scale.attrs["_Netcdf4Coordinates"] = np.array([dim_id], dtype=np.int32)
        else:  # a dimension without coordinates: netCDF's placeholder
            scale = group.create_dataset(dim, shape=(size,), dtype=">f4")
            scale.make_scale(f"{_DIMENSION_ONLY.decode()}.{size:10d}")
        scale.attrs["_Netcdf4Dimid"] = np.int32(dim_id)
        ids[dim], scales[dim] = dim_id, scale
        dim_id += 1
    for name, var in ds.data_vars.items():
        out = create(name, var.values)
        for axis, dim in enumerate(var.dims):
            out.dims[axis].attach_scale(scales[dim])
        out.attrs["_Netcdf4Coordinates"] = np.array([ids[d] for d in var.dims], dtype=np.int32)
        if var.dtype.kind == "f":
            out.attrs["_FillValue"] = np.array([np.nan])
        if var.dtype.kind == "b":
            out.attrs["dtype"] = "bool"
        _write_attributes(out, var.attrs)
    return dim_id


def _compressible(dtype) -> bool:
    if dtype.kind == "V":
        return all(_compressible(item) for item, _ in dtype.fields.values())
    return dtype.kind in {"b", "i", "u", "f", "c", "S"}


# --------------------------------------------------------------------------------- the sampler
@dataclass(frozen=True)
class NativeModel:
    """The native density as nutpie's sampler takes it: two C callbacks, the data block they
    read, the expanded variables' names, shapes, dims and coordinates, and a start per chain."""

    logp_cfunc: object
    expand_cfunc: object
    block: np.ndarray
    n_dim: int
    n_expanded: int
    names: list
    shapes: list
    dims: dict
    coords: dict
    initial_point: object  # seed -> start (unconstrained)

    def _lib_model(self):
        lib = nutpie_lib()
        expand = lib.ExpandFunc(
            self.n_dim,
            self.n_expanded,
            self.expand_cfunc.address,
            self.block.ctypes.data,
            self,
        )
        logp = lib.LogpFunc(self.logp_cfunc.address, self.block.ctypes.data, self)
        dim_sizes = {name: len(v) for name, v in self.coords.items()}
        variables = lib.PyVariable.new_variables(
            self.names, ["float64"] * len(self.names), self.shapes, dim_sizes, self.dims
        )
        return lib.PyMcModel(
            logp,
            expand,
            variables,
            self.n_dim,
            dim_sizes,
            dict(self.coords),
            self.initial_point,
            None,
        )


def sample(model: NativeModel, draws: int, tune: int, chains: int, cores: int, seed: int) -> Draws:
    """Sample ``model`` with nutpie's diagonal-mass-matrix NUTS (its defaults, as
    ``nutpie.sample(model, draws, tune, chains, cores, seed, progress_bar=False)``).

    Returns
    -------
    Draws
        ``posterior`` and ``sample_stats`` after tuning.
    """
    lib = nutpie_lib()
    settings = lib.PyNutsSettings.Diag(seed)
    settings.num_tune = tune
    settings.num_draws = draws
    settings.num_chains = chains
    sampler = lib.PySampler.from_pymc(
        settings,
        cores,
        model._lib_model(),
        lib.ProgressType.none(),
        lib.PyStorage.arrow(),
    )
    try:
        sampler.wait(None)
    except BaseException:
        sampler.abort()
        raise
    draw_batches, stat_batches = sampler.take_results().get_arrow_trace()
    skip = {
        n for s, names in _UNSTORED_STATS.items() if not getattr(settings, s, False) for n in names
    }
    return Draws(
        {
            "posterior": _group(draw_batches, stat_batches, model.coords, set()),
            "sample_stats": _group(stat_batches, stat_batches, model.coords, skip),
        }
    )


def _group(batches, stat_batches, coords: dict, skip: set):
    """One group (after tuning) from nutpie's per-chain Arrow batches, as ArviZ's ``from_dict``
    lays it out: ``(chain, draw, *dims)``, missing draws NaN, unnamed dims ``<var>_dim_<i>``."""
    import pyarrow
    import xarray as xr

    n_chain = len(batches)
    n_tune = [int(np.sum(pyarrow.array(s.column("tuning")).to_numpy(False))) for s in stat_batches]
    n_draw = max(b.num_rows - t for b, t in zip(batches, n_tune, strict=True))
    arrays, dims_of = {}, {}
    for chain, (batch, tuned) in enumerate(zip(batches, n_tune, strict=True)):
        part = batch.slice(tuned, batch.num_rows - tuned)
        for name in part.column_names:
            if name in skip or name in ("chain", "draw"):  # they are the coordinates
                continue
            col = part.column(name)
            meta = col.field.metadata or {}
            col = pyarrow.array(col)
            item_dims = meta.get(b"dims", b"").decode().split(",") if meta.get(b"dims") else []
            item_shape = (
                [int(s) for s in meta[b"shape"].decode().split(",")] if meta.get(b"shape") else []
            )
            is_null = np.asarray(col.is_null().to_numpy(False))
            flat = col.flatten() if hasattr(col, "flatten") else col
            values = flat.to_numpy(False)
            if name not in arrays:
                dtype = flat.type.to_pandas_dtype()
                shape = [n_chain, n_draw, *item_shape]
                fill = np.full if dtype in (np.float64, np.float32) else None
                arrays[name] = (
                    np.full(shape, np.nan, dtype=dtype) if fill else np.zeros(shape, dtype=dtype)
                )
                dims_of[name] = item_dims
            rows = part.num_rows
            target = arrays[name][chain, :rows]
            if is_null.any():
                target[~is_null] = values.reshape((int((~is_null).sum()), *item_shape))
            else:
                target[...] = values.reshape((rows, *item_shape))
    variables, used = {}, {}
    for name, arr in arrays.items():
        dims = list(dims_of[name]) or [f"{name}_dim_{i}" for i in range(arr.ndim - 2)]
        variables[name] = (("chain", "draw", *dims), arr)
        for d, size in zip(dims, arr.shape[2:], strict=True):
            used[d] = coords[d] if d in coords else np.arange(size)
    ds = xr.Dataset(
        variables,
        coords={"chain": np.arange(n_chain), "draw": np.arange(n_draw), **used},
    )
    ds.attrs = {
        "created_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "arviz_version": metadata.version("arviz"),
    }
    return ds
