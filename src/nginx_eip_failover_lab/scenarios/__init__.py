"""The lab's demos and scenarios: the pair demo, the address-set demo, observers, timelines,
replay checks.
"""
