"""Extra CLI commands; each module adds commands to memcap.cli.app."""
