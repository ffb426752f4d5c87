# The conformance lab: included by the top-level Makefile (include lab/lab.mk).
# Every target runs from the repository root, as root; see lab/README.md.
LAB_SH := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))/lab.sh

.PHONY: lab-build lab-up lab-down lab-status lab-e2e-sample lab-check

lab-build: ## build the pinned Kubernetes programs and tools into the lab cache
	$(LAB_SH) build

lab-up: ## start the two-node lab cluster (idempotent; LAB_MIPS=1 adds the emulated mips64le node lab-mips-1); writes lab/.state/{kubeconfig,env,images.json}
	$(LAB_SH) up

lab-down: ## stop everything the lab started and remove its links, routes and mounts
	$(LAB_SH) down

lab-status: ## show lab components and nodes (exit 1 when the lab is not running)
	$(LAB_SH) status

lab-e2e-sample: ## run upstream e2e.test (go-runner) with a small [Conformance] focus; results in lab/.state/samples/
	$(LAB_SH) e2e-sample $(SAMPLE)

lab-check: ## check the lab's done-when items against the running lab (then lab-down when CHECK_DOWN=1)
	$(LAB_SH) check
