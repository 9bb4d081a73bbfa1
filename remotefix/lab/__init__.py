"""Labs: offline base images, lab specs, builds and the container runtime."""
