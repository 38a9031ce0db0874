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

# The command-line client, when clients/ has one: clients/symlora (a Python script using only
# the standard library) and the modules beside it. The script is installed next to its modules
# and linked into BINDIR, so its sibling imports keep working (Python resolves the link).
CLIENT_CLI := $(wildcard clients/symlora)
CLIENT_PY  := $(wildcard clients/*.py)

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
	$(INSTALL) -m 755 clients/symlora $(DESTDIR)$(CLIENTDIR)/symlora
	$(if $(CLIENT_PY),$(INSTALL) -m 644 $(CLIENT_PY) $(DESTDIR)$(CLIENTDIR)/)
	ln -sf $(CLIENTDIR)/symlora $(DESTDIR)$(BINDIR)/symlora
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
