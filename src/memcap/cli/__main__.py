from memcap.cli.app import main

main()
