from orderly.entrypoints.cli import main

main()
