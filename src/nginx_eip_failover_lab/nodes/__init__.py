"""The nginx processes playing the NGINX Plus nodes, fleets of them, and observer links."""
