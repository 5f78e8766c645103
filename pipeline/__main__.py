"""`python -m pipeline` does what the `crimetrends` command does."""

from pipeline.cli import main

if __name__ == "__main__":
    main()
