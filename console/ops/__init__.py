"""The operations the CLI and the console call; neither touches sessions or cluster objects."""
