"""Attribute inference against decision trees (Fredrikson et al. 2014, 2015).

``attacks``: the black-box MAP estimator and white-box with counts (WBWC);
``model``: the downloaded BigML tree JSON and a local oracle over it;
``metrics``: attack, baseline, random and ideal-attacker scores;
``records``: the targets' known features and true labels.
"""
