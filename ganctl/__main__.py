from ganctl.cli.app import main

main()
