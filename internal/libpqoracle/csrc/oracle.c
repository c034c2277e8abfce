/*
 * libpq_oracle: connect (or ping) with a given libpq.so and print what libpq
 * says, as one JSON object on stdout.
 *
 *   libpq_oracle LIBPQ.SO connect|ping < CONNINFO
 *
 * The packages it loads ship libpq.so without headers, so the few functions
 * used are looked up with dlsym; the ones a library may lack (PQsslAttribute
 * before 9.5, PQfullProtocolVersion before 18) are optional. The connection
 * string comes on stdin so that passwords stay off the command line.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pg_conn PGconn;

static int (*PQlibVersion)(void);
static PGconn *(*PQconnectdb)(const char *);
static int (*PQstatus)(const PGconn *);
static char *(*PQerrorMessage)(const PGconn *);
static void (*PQfinish)(PGconn *);
static int (*PQprotocolVersion)(const PGconn *);
static int (*PQfullProtocolVersion)(const PGconn *);
static const char *(*PQparameterStatus)(const PGconn *, const char *);
static int (*PQsslInUse)(PGconn *);
static const char *(*PQsslAttribute)(PGconn *, const char *);
static int (*PQconnectionUsedPassword)(const PGconn *);
static int (*PQping)(const char *);

static void *sym(void *lib, const char *name, int required)
{
	void *p = dlsym(lib, name);
	if (p == NULL && required) {
		fprintf(stderr, "libpq_oracle: %s: %s\n", name, dlerror());
		exit(2);
	}
	return p;
}

static void json_string(const char *s)
{
	if (s == NULL) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static char *read_stdin(void)
{
	size_t cap = 4096, len = 0, n;
	char *buf = malloc(cap);
	while (buf && (n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
		len += n;
		if (len + 1 == cap)
			buf = realloc(buf, cap *= 2);
	}
	if (buf == NULL) {
		fputs("libpq_oracle: out of memory\n", stderr);
		exit(2);
	}
	buf[len] = '\0';
	return buf;
}

static void connect_and_report(const char *conninfo)
{
	PGconn *conn = PQconnectdb(conninfo);
	int ok = PQstatus(conn) == 0; /* CONNECTION_OK */
	int ssl = ok && PQsslInUse(conn);

	printf(",\"ok\":%s,\"status\":\"%s\",\"error\":", ok ? "true" : "false",
		   ok ? "CONNECTION_OK" : "CONNECTION_BAD");
	json_string(PQerrorMessage(conn));
	printf(",\"protocol_version\":%d", PQprotocolVersion(conn));
	printf(",\"full_protocol_version\":%d", PQfullProtocolVersion ? PQfullProtocolVersion(conn) : 0);
	printf(",\"used_password\":%s", PQconnectionUsedPassword(conn) ? "true" : "false");
	printf(",\"ssl_in_use\":%s", ssl ? "true" : "false");
	fputs(",\"ssl_protocol\":", stdout);
	json_string(ssl && PQsslAttribute ? PQsslAttribute(conn, "protocol") : NULL);
	fputs(",\"ssl_cipher\":", stdout);
	json_string(ssl && PQsslAttribute ? PQsslAttribute(conn, "cipher") : NULL);
	fputs(",\"ssl_alpn\":", stdout);
	json_string(ssl && PQsslAttribute ? PQsslAttribute(conn, "alpn") : NULL);
	fputs(",\"server_version\":", stdout);
	json_string(ok ? PQparameterStatus(conn, "server_version") : NULL);
	PQfinish(conn);
}

int main(int argc, char **argv)
{
	void *lib;
	char *conninfo;

	if (argc != 3 || (strcmp(argv[2], "connect") != 0 && strcmp(argv[2], "ping") != 0)) {
		fputs("usage: libpq_oracle LIBPQ.SO connect|ping < CONNINFO\n", stderr);
		return 2;
	}
	if ((lib = dlopen(argv[1], RTLD_NOW)) == NULL) {
		fprintf(stderr, "libpq_oracle: %s\n", dlerror());
		return 2;
	}
	PQlibVersion = sym(lib, "PQlibVersion", 1);
	PQconnectdb = sym(lib, "PQconnectdb", 1);
	PQstatus = sym(lib, "PQstatus", 1);
	PQerrorMessage = sym(lib, "PQerrorMessage", 1);
	PQfinish = sym(lib, "PQfinish", 1);
	PQprotocolVersion = sym(lib, "PQprotocolVersion", 1);
	PQfullProtocolVersion = sym(lib, "PQfullProtocolVersion", 0);
	PQparameterStatus = sym(lib, "PQparameterStatus", 1);
	PQsslInUse = sym(lib, "PQsslInUse", 1);
	PQsslAttribute = sym(lib, "PQsslAttribute", 0);
	PQconnectionUsedPassword = sym(lib, "PQconnectionUsedPassword", 1);
	PQping = sym(lib, "PQping", 1);

	conninfo = read_stdin();
	printf("{\"lib_version\":%d", PQlibVersion());
	if (strcmp(argv[2], "ping") == 0)
		printf(",\"ping\":%d", PQping(conninfo));
	else
		connect_and_report(conninfo);
	puts("}");
	return 0;
}
