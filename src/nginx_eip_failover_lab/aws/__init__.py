"""The lab's AWS side: the moto server and its launcher, the request-recording proxy, moto's gaps, EC2
request limits, denials and alarm triggers.
"""
