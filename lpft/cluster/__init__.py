"""Running sweeps on Ray clusters: job submission (`jobs`) and a local multi-node cluster (`local`)."""
