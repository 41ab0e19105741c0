from devhub.cli.main import main

main()
