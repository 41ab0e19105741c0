from devhub.cli import main

main()
