"""trialmodel"""
