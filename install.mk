# install.mk — `make install` / `make uninstall`, and `make test-container` (included from the Makefile).
#   make install                         → /usr/local/bin/symlorad, /usr/local/lib/systemd/system/…
#   make install PREFIX=/usr DESTDIR=pkg → pkg/usr/bin/symlorad, pkg/lib/systemd/system/…
# The unit's ExecStart is rewritten to $(PREFIX)/bin/symlorad. The config directory is always
# /etc/symlora (DESTDIR-relative): the example is installed, the real file is the operator's.

PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
ifeq ($(PREFIX),/usr)
UNITDIR    ?= /lib/systemd/system
else
UNITDIR    ?= $(PREFIX)/lib/systemd/system
endif
CLIENTDIR  ?= $(PREFIX)/lib/symlora/clients
INSTALL    ?= install

# The command-line client, when clients/ has one (Python, standard library only): the script
# clients/symlora (or clients/symlora.py), the modules beside it (clients/*.py) and packages
# (clients/*/__init__.py) go to CLIENTDIR, and BINDIR/symlora links to the script, so its sibling
# imports keep working (Python resolves the link to find them).
CLIENT_CLI  := $(firstword $(foreach f,clients/symlora clients/symlora.py,$(shell test -f $(f) && echo $(f))))
CLIENT_PY   := $(filter-out $(CLIENT_CLI),$(wildcard clients/*.py))
CLIENT_PKGS := $(patsubst %/__init__.py,%,$(wildcard clients/*/__init__.py))

.PHONY: install uninstall
install: $(BUILD)/symlorad
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/symlora
	$(INSTALL) -m 755 $(BUILD)/symlorad $(DESTDIR)$(BINDIR)/symlorad
	sed -e 's|/usr/local/bin/symlorad|$(BINDIR)/symlorad|g' \
	    -e 's|/etc/symlora/|$(SYSCONFDIR)/symlora/|g' systemd/symlorad.service \
	    > $(DESTDIR)$(UNITDIR)/symlorad.service.tmp
	chmod 644 $(DESTDIR)$(UNITDIR)/symlorad.service.tmp
	mv -f $(DESTDIR)$(UNITDIR)/symlorad.service.tmp $(DESTDIR)$(UNITDIR)/symlorad.service
	$(INSTALL) -m 644 systemd/symlorad.conf.example $(DESTDIR)$(SYSCONFDIR)/symlora/symlorad.conf.example
ifneq ($(CLIENT_CLI),)
	$(INSTALL) -d $(DESTDIR)$(CLIENTDIR)
	$(INSTALL) -m 755 $(CLIENT_CLI) $(DESTDIR)$(CLIENTDIR)/
	$(if $(CLIENT_PY),$(INSTALL) -m 644 $(CLIENT_PY) $(DESTDIR)$(CLIENTDIR)/)
	$(foreach d,$(CLIENT_PKGS),(cd $(dir $(d)) && find $(notdir $(d)) -name __pycache__ -prune -o -type f -name '*.py' \
	    -exec $(INSTALL) -D -m 644 {} $(abspath $(DESTDIR)$(CLIENTDIR))/{} \;);)
	ln -sf $(CLIENTDIR)/$(notdir $(CLIENT_CLI)) $(DESTDIR)$(BINDIR)/symlora
endif

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/symlorad $(DESTDIR)$(BINDIR)/symlora \
	      $(DESTDIR)$(UNITDIR)/symlorad.service \
	      $(DESTDIR)$(SYSCONFDIR)/symlora/symlorad.conf.example
	rm -rf $(DESTDIR)$(CLIENTDIR)
	-rmdir $(DESTDIR)$(PREFIX)/lib/symlora 2>/dev/null

# The container image, built and run for real with podman (tests/container/test_container.sh;
# needs root or sudo: apt-get, debootstrap and rootful podman). Not part of `make test`.
.PHONY: test-container
test-container:
	@tests/container/test_container.sh
