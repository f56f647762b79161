"""`python -m framepred` runs the command-line interface (loaded only when run this way)."""


def _run() -> None:
    from cli.main import main  # the front end; the library never imports it

    main()


if __name__ == "__main__":
    _run()
