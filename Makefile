demo:
	scripts/setup.sh
	swift build -c release
	scripts/demo.sh

test:
	scripts/setup.sh
	scripts/test.sh

.PHONY: demo test
