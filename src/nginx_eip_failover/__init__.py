"""nginx-eip-failover: keep an Elastic IP on the healthy node of an NGINX Plus pair."""

__version__ = "0.1.0"
