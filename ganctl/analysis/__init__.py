"""After-the-run tools over finished runs: sweep reports (`ganctl report`) and training curves (`ganctl plot`)."""
