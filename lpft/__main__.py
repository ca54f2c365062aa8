from lpft.cli import run

run()
