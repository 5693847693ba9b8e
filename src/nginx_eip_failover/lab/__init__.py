"""The local lab: a moto server as AWS, real nginx processes as the NGINX Plus nodes, and the real
handlers run in fresh processes as Lambda would run them. Development and demo use only."""
