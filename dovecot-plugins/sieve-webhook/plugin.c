/* Pigeonhole plugin sieve_mailward: the Sieve extension vnd.mailward.webhook.
 *
 * Specification: vendor-defined (dovecot-plugins/sieve-webhook/README.md)
 * Implementation: full
 * Status: experimental
 *
 * Syntax:
 *   webhook [":title" <string>] [":message" <string>]
 *           [":priority" <"low" / "normal" / "high">]
 *           [":field" <name: string> <value: string>]...
 *           [":url" <string>]
 *           <target: string>
 *
 * This is the only translation unit that includes Dovecot's and Pigeonhole's headers; it is plain
 * C (gnu99, like Dovecot itself) so that no C++ meets those headers and no exception can cross
 * into Dovecot. The logic (argument checks, collapse/limit, building and writing the event) is C++
 * behind bridge.h.
 *
 * The four parts, as in Pigeonhole's own extensions: the extension (load/unload: the
 * administrator's targets from mailward.conf), the command (validation at compile time, code
 * generation), the operation (execution of the script only records an action), and the action
 * (duplicate check, print; then, when Pigeonhole executes the result, the event is written into the
 * spool's tmp/ at execute, published into new/ at commit and synced by finish; a failure there is
 * logged and never fails delivery).
 */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "istream.h"
#include "smtp-address.h"
#include "mail-storage.h"

#include "sieve-common.h"
#include "sieve-settings.h"
#include "sieve-error.h"
#include "sieve-extensions.h"
#include "sieve-code.h"
#include "sieve-commands.h"
#include "sieve-actions.h"
#include "sieve-validator.h"
#include "sieve-generator.h"
#include "sieve-interpreter.h"
#include "sieve-runtime.h"
#include "sieve-runtime-trace.h"
#include "sieve-code-dumper.h"
#include "sieve-dump.h"
#include "sieve-result.h"
#include "sieve-message.h"

#include "bridge.h"

#define MAILWARD_DEFAULT_CONFIG "/etc/mailward/mailward.conf"
/* A snippet needs only the start of the body; never read more than this. */
#define MAILWARD_SNIPPET_READ_MAX (256 * 1024)

/* Exported for Dovecot's module loader (module name "sieve_mailward_plugin"). */
void sieve_mailward_plugin_load(struct sieve_instance *svinst, void **context);
void sieve_mailward_plugin_unload(struct sieve_instance *svinst, void *context);
void sieve_mailward_plugin_init(void);
void sieve_mailward_plugin_deinit(void);
extern const char *sieve_mailward_plugin_version;

/*
 * Logging through the bridge
 */

static const char *mw_config_path(struct sieve_instance *svinst)
{
	const char *path = sieve_setting_get(svinst, "mailward_config");

	return (path == NULL || *path == '\0' ? MAILWARD_DEFAULT_CONFIG : path);
}

static void mw_log_instance(void *ctx, enum mw_log_level level, const char *text)
{
	struct sieve_instance *svinst = ctx;

	switch (level) {
	case MW_LOG_ERROR:
		e_error(svinst->event, "mailward: %s", text);
		break;
	case MW_LOG_WARNING:
		e_warning(svinst->event, "mailward: %s", text);
		break;
	case MW_LOG_INFO:
		e_info(svinst->event, "mailward: %s", text);
		break;
	case MW_LOG_DEBUG:
	default:
		e_debug(svinst->event, "mailward: %s", text);
		break;
	}
}

static void mw_log_action(void *ctx, enum mw_log_level level, const char *text)
{
	const struct sieve_action_exec_env *aenv = ctx;

	/* Pigeonhole already prefixes "webhook action: " */
	if (str_begins(text, "webhook: "))
		text += strlen("webhook: ");
	switch (level) {
	case MW_LOG_ERROR:
		sieve_result_global_error(aenv, "%s", text);
		break;
	case MW_LOG_WARNING:
		sieve_result_global_warning(aenv, "%s", text);
		break;
	case MW_LOG_INFO:
		sieve_result_global_log(aenv, "%s", text);
		break;
	case MW_LOG_DEBUG:
	default:
		e_debug(aenv->event, "%s", text);
		break;
	}
}

/*
 * Extension
 */

static const struct sieve_operation_def webhook_operation;

static bool ext_webhook_load(const struct sieve_extension *ext, void **context);
static void ext_webhook_unload(const struct sieve_extension *ext);
static bool ext_webhook_validator_load(const struct sieve_extension *ext,
				       struct sieve_validator *valdtr);

static const struct sieve_extension_def webhook_extension = {
	.name = "vnd.mailward.webhook",
	.load = ext_webhook_load,
	.unload = ext_webhook_unload,
	.validator_load = ext_webhook_validator_load,
	SIEVE_EXT_DEFINE_OPERATION(webhook_operation),
};

static bool ext_webhook_load(const struct sieve_extension *ext, void **context)
{
	struct mw_webhook_config *config;

	if (*context != NULL) {
		mw_webhook_config_free(*context);
		*context = NULL;
	}
	/* The plugin checked this file a moment ago (and registered the extension
	   only when it held targets); it is not parsed again unless it changed. */
	config = mw_webhook_config_load(mw_config_path(ext->svinst),
					mw_log_instance, ext->svinst);
	if (config == NULL)
		return FALSE;
	*context = config;
	return TRUE;
}

static void ext_webhook_unload(const struct sieve_extension *ext)
{
	mw_webhook_config_free(ext->context);
}

static const struct mw_webhook_config *
ext_webhook_config(const struct sieve_extension *ext)
{
	return ext->context;
}

/*
 * Command
 */

enum webhook_optional {
	OPT_END,
	OPT_TITLE,
	OPT_MESSAGE,
	OPT_PRIORITY,
	OPT_FIELD_NAME,
	OPT_FIELD_VALUE,
	OPT_URL,
};

static bool
tag_string_validate(struct sieve_validator *valdtr,
		    struct sieve_ast_argument **arg, struct sieve_command *cmd);
static bool
tag_priority_validate(struct sieve_validator *valdtr,
		      struct sieve_ast_argument **arg, struct sieve_command *cmd);
static bool
tag_field_validate(struct sieve_validator *valdtr,
		   struct sieve_ast_argument **arg, struct sieve_command *cmd);

static const struct sieve_argument_def webhook_title_tag = {
	.identifier = "title",
	.validate = tag_string_validate,
};
static const struct sieve_argument_def webhook_message_tag = {
	.identifier = "message",
	.validate = tag_string_validate,
};
static const struct sieve_argument_def webhook_url_tag = {
	.identifier = "url",
	.validate = tag_string_validate,
};
static const struct sieve_argument_def webhook_priority_tag = {
	.identifier = "priority",
	.validate = tag_priority_validate,
};
static const struct sieve_argument_def webhook_field_tag = {
	.identifier = "field",
	.flags = SIEVE_ARGUMENT_FLAG_MULTIPLE,
	.validate = tag_field_validate,
};

static bool cmd_webhook_registered(struct sieve_validator *valdtr,
				   const struct sieve_extension *ext,
				   struct sieve_command_registration *cmd_reg);
static bool cmd_webhook_validate(struct sieve_validator *valdtr,
				 struct sieve_command *cmd);
static bool cmd_webhook_generate(const struct sieve_codegen_env *cgenv,
				 struct sieve_command *cmd);

static const struct sieve_command_def webhook_command = {
	.identifier = "webhook",
	.type = SCT_COMMAND,
	.positional_args = 1,
	.subtests = 0,
	.block_allowed = FALSE,
	.block_required = FALSE,
	.registered = cmd_webhook_registered,
	.validate = cmd_webhook_validate,
	.generate = cmd_webhook_generate,
};

static bool ext_webhook_validator_load(const struct sieve_extension *ext,
				       struct sieve_validator *valdtr)
{
	sieve_validator_register_command(valdtr, ext, &webhook_command);
	return TRUE;
}

static bool cmd_webhook_registered(struct sieve_validator *valdtr,
				   const struct sieve_extension *ext,
				   struct sieve_command_registration *cmd_reg)
{
	sieve_validator_register_tag(valdtr, cmd_reg, ext, &webhook_title_tag,
				     OPT_TITLE);
	sieve_validator_register_tag(valdtr, cmd_reg, ext, &webhook_message_tag,
				     OPT_MESSAGE);
	sieve_validator_register_tag(valdtr, cmd_reg, ext, &webhook_priority_tag,
				     OPT_PRIORITY);
	sieve_validator_register_tag(valdtr, cmd_reg, ext, &webhook_field_tag,
				     OPT_FIELD_NAME);
	sieve_validator_register_tag(valdtr, cmd_reg, ext, &webhook_url_tag,
				     OPT_URL);
	return TRUE;
}

/* :title, :message, :url <string> */
static bool
tag_string_validate(struct sieve_validator *valdtr,
		    struct sieve_ast_argument **arg, struct sieve_command *cmd)
{
	struct sieve_ast_argument *tag = *arg;

	*arg = sieve_ast_arguments_detach(*arg, 1);
	if (!sieve_validate_tag_parameter(valdtr, cmd, tag, *arg, NULL, 0,
					  SAAT_STRING, FALSE))
		return FALSE;
	*arg = sieve_ast_argument_next(*arg);
	return TRUE;
}

/* :priority <"low" / "normal" / "high">; a value holding variables is
   checked when the script runs (an invalid one then means "normal"). */
static bool
tag_priority_validate(struct sieve_validator *valdtr,
		      struct sieve_ast_argument **arg, struct sieve_command *cmd)
{
	struct sieve_ast_argument *tag = *arg;

	*arg = sieve_ast_arguments_detach(*arg, 1);
	if (!sieve_validate_tag_parameter(valdtr, cmd, tag, *arg, NULL, 0,
					  SAAT_STRING, FALSE))
		return FALSE;
	if (sieve_argument_is_string_literal(*arg) &&
	    mw_webhook_priority_valid(sieve_ast_argument_strc(*arg)) == 0) {
		sieve_argument_validate_error(
			valdtr, *arg,
			"invalid :priority value for the webhook command: "
			"\"%s\" (expected \"low\", \"normal\" or \"high\")",
			str_sanitize(sieve_ast_argument_strc(*arg), 64));
		return FALSE;
	}
	*arg = sieve_ast_argument_next(*arg);
	return TRUE;
}

/* :field <name: string> <value: string>; the two parameters are emitted as
   two optional operands (OPT_FIELD_NAME then OPT_FIELD_VALUE). */
static bool
tag_field_validate(struct sieve_validator *valdtr,
		   struct sieve_ast_argument **arg, struct sieve_command *cmd)
{
	struct sieve_ast_argument *tag = *arg;
	struct sieve_ast_argument *name, *value;

	*arg = sieve_ast_arguments_detach(*arg, 1);
	name = *arg;
	if (!sieve_validate_tag_parameter(valdtr, cmd, tag, name, "name", 1,
					  SAAT_STRING, FALSE))
		return FALSE;
	if (sieve_argument_is_string_literal(name) &&
	    mw_webhook_field_name_valid(sieve_ast_argument_strc(name)) == 0) {
		sieve_argument_validate_error(
			valdtr, name,
			"invalid :field name for the webhook command: \"%s\" "
			"(a field name is 1 to 64 letters, digits or "
			"!#$%%&'*+-.^_`|~)",
			str_sanitize(sieve_ast_argument_strc(name), 64));
		return FALSE;
	}
	value = sieve_ast_argument_next(name);
	if (!sieve_validate_tag_parameter(valdtr, cmd, tag, value, "value", 2,
					  SAAT_STRING, FALSE))
		return FALSE;
	value->argument->id_code = OPT_FIELD_VALUE;
	*arg = sieve_ast_argument_next(value);
	return TRUE;
}

static bool cmd_webhook_validate(struct sieve_validator *valdtr,
				 struct sieve_command *cmd)
{
	struct sieve_ast_argument *arg = cmd->first_positional;
	const struct mw_webhook_config *config = ext_webhook_config(cmd->ext);

	if (!sieve_validate_positional_argument(valdtr, cmd, arg, "target", 1,
						SAAT_STRING))
		return FALSE;
	if (!sieve_validator_argument_activate(valdtr, cmd, arg, FALSE))
		return FALSE;

	/* A constant target must be one the administrator configured; a
	   target built from variables is checked when the script runs. */
	if (sieve_argument_is_string_literal(arg) &&
	    mw_webhook_has_target(config, sieve_ast_argument_strc(arg)) == 0) {
		char names[512];

		mw_webhook_target_names(config, names, sizeof(names));
		sieve_argument_validate_error(
			valdtr, arg,
			"unknown webhook target \"%s\" (configured targets: %s)",
			str_sanitize(sieve_ast_argument_strc(arg), 64), names);
		return FALSE;
	}
	return TRUE;
}

static bool cmd_webhook_generate(const struct sieve_codegen_env *cgenv,
				 struct sieve_command *cmd)
{
	sieve_operation_emit(cgenv->sblock, cmd->ext, &webhook_operation);
	return sieve_generate_arguments(cgenv, cmd, NULL);
}

/*
 * Operation
 */

static bool webhook_operation_dump(const struct sieve_dumptime_env *denv,
				   sieve_size_t *address);
static int webhook_operation_execute(const struct sieve_runtime_env *renv,
				     sieve_size_t *address);

static const struct sieve_operation_def webhook_operation = {
	.mnemonic = "WEBHOOK",
	.ext_def = &webhook_extension,
	.code = 0,
	.dump = webhook_operation_dump,
	.execute = webhook_operation_execute,
};

static bool webhook_operation_dump(const struct sieve_dumptime_env *denv,
				   sieve_size_t *address)
{
	int opt_code = 0;

	sieve_code_dumpf(denv, "WEBHOOK");
	sieve_code_descend(denv);

	for (;;) {
		bool ok;
		int opt;

		if ((opt = sieve_opr_optional_dump(denv, address, &opt_code)) < 0)
			return FALSE;
		if (opt == 0)
			break;
		switch (opt_code) {
		case OPT_TITLE:
			ok = sieve_opr_string_dump(denv, address, "title");
			break;
		case OPT_MESSAGE:
			ok = sieve_opr_string_dump(denv, address, "message");
			break;
		case OPT_PRIORITY:
			ok = sieve_opr_string_dump(denv, address, "priority");
			break;
		case OPT_FIELD_NAME:
			ok = sieve_opr_string_dump(denv, address, "field name");
			break;
		case OPT_FIELD_VALUE:
			ok = sieve_opr_string_dump(denv, address, "field value");
			break;
		case OPT_URL:
			ok = sieve_opr_string_dump(denv, address, "url");
			break;
		default:
			return FALSE;
		}
		if (!ok)
			return FALSE;
	}
	return sieve_opr_string_dump(denv, address, "target");
}

/* What the script asked for; lives in the result pool until commit. */
struct webhook_action {
	const char *target;
	const char *title;
	const char *message;
	const char *priority;
	const char *url;
	ARRAY(struct mw_webhook_field) fields;
};

static const struct sieve_action_def act_webhook;

static int webhook_operation_execute(const struct sieve_runtime_env *renv,
				     sieve_size_t *address)
{
	const struct sieve_extension *this_ext = renv->oprtn->ext;
	const struct mw_webhook_config *config = ext_webhook_config(this_ext);
	pool_t pool = sieve_result_pool(renv->result);
	struct webhook_action *act;
	struct sieve_result_iterate_context *rictx;
	const struct sieve_action *other;
	ARRAY_TYPE(const_string) recorded;
	const char *const *recorded_names, *location;
	unsigned int recorded_count, limit;
	string_t *value, *target;
	int opt_code = 0, ret;

	act = p_new(pool, struct webhook_action, 1);
	act->title = "";
	act->message = "";
	act->priority = "normal";
	p_array_init(&act->fields, pool, 4);

	for (;;) {
		int opt;

		if ((opt = sieve_opr_optional_read(renv, address, &opt_code)) < 0)
			return SIEVE_EXEC_BIN_CORRUPT;
		if (opt == 0)
			break;
		switch (opt_code) {
		case OPT_TITLE:
		case OPT_MESSAGE:
		case OPT_PRIORITY:
		case OPT_FIELD_NAME:
		case OPT_FIELD_VALUE:
		case OPT_URL:
			break;
		default:
			sieve_runtime_trace_error(renv, "unknown optional operand");
			return SIEVE_EXEC_BIN_CORRUPT;
		}
		if ((ret = sieve_opr_string_read(renv, address, "optional", &value)) <= 0)
			return ret;
		switch (opt_code) {
		case OPT_TITLE:
			act->title = p_strdup(pool, str_c(value));
			break;
		case OPT_MESSAGE:
			act->message = p_strdup(pool, str_c(value));
			break;
		case OPT_PRIORITY:
			act->priority = p_strdup(pool, str_c(value));
			break;
		case OPT_URL:
			act->url = p_strdup(pool, str_c(value));
			break;
		case OPT_FIELD_NAME: {
			struct mw_webhook_field *field = array_append_space(&act->fields);

			field->name = p_strdup(pool, str_c(value));
			field->value = NULL;
			break;
		}
		case OPT_FIELD_VALUE: {
			unsigned int count = array_count(&act->fields);
			struct mw_webhook_field *field;

			if (count == 0 ||
			    (field = array_idx_modifiable(&act->fields, count - 1))->value != NULL) {
				sieve_runtime_trace_error(renv, "field value without name");
				return SIEVE_EXEC_BIN_CORRUPT;
			}
			field->value = p_strdup(pool, str_c(value));
			break;
		}
		default:
			break;
		}
	}
	if ((ret = sieve_opr_string_read(renv, address, "target", &target)) <= 0)
		return ret;
	act->target = p_strdup(pool, str_c(target));

	sieve_runtime_trace(renv, SIEVE_TRLVL_ACTIONS,
			    "webhook action for target `%s'",
			    str_sanitize(act->target, 64));

	location = sieve_runtime_get_full_command_location(renv);
	/* A target named through variables is checked now; so is the users
	   allowlist (the user is known only at run time). A problem here is
	   the script's: warn and go on, never fail the delivery. */
	switch (mw_webhook_target_use(config, act->target, renv->exec_env->svinst->username)) {
	case MW_TARGET_UNKNOWN:
		sieve_runtime_warning(renv, location,
				      "webhook: unknown target \"%s\"; no notification",
				      str_sanitize(act->target, 64));
		return SIEVE_EXEC_OK;
	case MW_TARGET_USER_NOT_ALLOWED:
		sieve_runtime_warning(renv, location,
				      "webhook: target \"%s\" is not available to this user; "
				      "no notification", str_sanitize(act->target, 64));
		return SIEVE_EXEC_OK;
	case MW_TARGET_OK:
	default:
		break;
	}

	/* Collapse duplicates and apply the per-message limit. */
	t_array_init(&recorded, 8);
	rictx = sieve_result_iterate_init(renv->result);
	while ((other = sieve_result_iterate_next(rictx, NULL)) != NULL) {
		if (other->def == &act_webhook && other->context != NULL) {
			const struct webhook_action *oact = other->context;

			array_push_back(&recorded, &oact->target);
		}
	}
	limit = mw_webhook_per_message_limit(config);
	recorded_names = array_get(&recorded, &recorded_count);
	switch (mw_webhook_decide_add(recorded_names, recorded_count, act->target, limit)) {
	case MW_ADD_DUPLICATE:
		sieve_runtime_trace(renv, SIEVE_TRLVL_ACTIONS,
				    "duplicate webhook for target `%s' collapsed",
				    str_sanitize(act->target, 64));
		return SIEVE_EXEC_OK;
	case MW_ADD_OVER_LIMIT:
		sieve_runtime_warning(
			renv, location,
			"webhook: per-message limit of %u notifications reached; "
			"notification to target \"%s\" dropped",
			limit, str_sanitize(act->target, 64));
		return SIEVE_EXEC_OK;
	case MW_ADD:
	default:
		break;
	}

	if (sieve_result_add_action(renv, this_ext, "webhook", &act_webhook,
				    NULL, act, 0, FALSE) < 0)
		return SIEVE_EXEC_FAILURE;
	return SIEVE_EXEC_OK;
}

/*
 * Action
 */

static int act_webhook_check_duplicate(const struct sieve_runtime_env *renv,
				       const struct sieve_action *act,
				       const struct sieve_action *act_other);
static void act_webhook_print(const struct sieve_action *action,
			      const struct sieve_result_print_env *rpenv,
			      bool *keep);
static int act_webhook_start(const struct sieve_action_exec_env *aenv,
			     void **tr_context);
static int act_webhook_execute(const struct sieve_action_exec_env *aenv,
			       void *tr_context, bool *keep);
static int act_webhook_commit(const struct sieve_action_exec_env *aenv,
			      void *tr_context);
static void act_webhook_rollback(const struct sieve_action_exec_env *aenv,
				 void *tr_context, bool success);
static void act_webhook_finish(const struct sieve_action_exec_env *aenv,
			       void *tr_context, int status);

/* The event is written in the phases of Pigeonhole's result execution (README.md, "Overlapped
   fsyncs"): execute writes it into the spool's tmp/ and starts its fsync in the background (the
   implicit keep stores the message meanwhile), commit renames it into new/ and starts the fsync
   of new/, finish waits for that fsync before the delivery is answered. A rolled-back
   transaction removes the file from tmp/: notifyd never sees it. */
static const struct sieve_action_def act_webhook = {
	.name = "webhook",
	.check_duplicate = act_webhook_check_duplicate,
	.print = act_webhook_print,
	.start = act_webhook_start,
	.execute = act_webhook_execute,
	.commit = act_webhook_commit,
	.rollback = act_webhook_rollback,
	.finish = act_webhook_finish,
};

/* Per action execution: the event between execute and finish. */
struct webhook_transaction {
	struct mw_webhook_pending *pending;
};

/* Same target: the later call is a duplicate (the first one is kept). */
static int act_webhook_check_duplicate(const struct sieve_runtime_env *renv ATTR_UNUSED,
				       const struct sieve_action *act,
				       const struct sieve_action *act_other)
{
	const struct webhook_action *a = act->context, *b = act_other->context;

	if (a == NULL || b == NULL)
		return 0;
	return (strcmp(a->target, b->target) == 0 ? 1 : 0);
}

static void act_webhook_print(const struct sieve_action *action,
			      const struct sieve_result_print_env *rpenv,
			      bool *keep ATTR_UNUSED)
{
	const struct webhook_action *act = action->context;
	const struct mw_webhook_field *field;

	sieve_result_action_printf(rpenv, "send webhook notification to target '%s'",
				   str_sanitize(act->target, 64));
	sieve_result_printf(rpenv, "    => title    : %s\n", str_sanitize(act->title, 80));
	sieve_result_printf(rpenv, "    => message  : %s\n", str_sanitize(act->message, 80));
	sieve_result_printf(rpenv, "    => priority : %s\n", str_sanitize(act->priority, 16));
	array_foreach(&act->fields, field) {
		sieve_result_printf(rpenv, "    => field    : %s = %s\n",
				    str_sanitize(field->name, 64),
				    str_sanitize(field->value == NULL ? "" : field->value, 80));
	}
	if (act->url != NULL)
		sieve_result_printf(rpenv, "    => url      : %s\n", str_sanitize(act->url, 120));
	sieve_result_printf(rpenv, "\n");
}

/* The mailbox the message goes to: the first fileinto/keep of this
   result, or the default mailbox when the implicit keep stores it. Empty
   when the message is not stored (discard, redirect, pipe). */
static const char *webhook_mailbox(const struct sieve_action_exec_env *aenv)
{
	const struct sieve_execute_env *eenv = aenv->exec_env;
	const char *default_mailbox =
		(eenv->scriptenv != NULL && eenv->scriptenv->default_mailbox != NULL ?
		 eenv->scriptenv->default_mailbox : "INBOX");
	struct sieve_result_iterate_context *rictx;
	const struct sieve_action *act;
	bool delivered_elsewhere = FALSE;

	rictx = sieve_result_iterate_init(aenv->result);
	while ((act = sieve_result_iterate_next(rictx, NULL)) != NULL) {
		if (act->def == NULL)
			continue;
		if (act->def == &act_store) {
			const struct act_store_context *sctx = act->context;

			return (sctx != NULL && sctx->mailbox != NULL ?
				sctx->mailbox : default_mailbox);
		}
		if (act->def == &act_discard ||
		    (act->def->flags & SIEVE_ACTFLAG_TRIES_DELIVER) != 0)
			delivered_elsewhere = TRUE;
	}
	return (delivered_elsewhere ? "" : default_mailbox);
}

static const char *webhook_header(struct mail *mail, const char *name)
{
	const char *value = NULL;

	/* mail_get_first_header_utf8 decodes RFC 2047 words and unfolds; for
	   From/To this is for display only (the event is for a person to read),
	   which is what we want here. */
	if (mail == NULL || mail_get_first_header_utf8(mail, name, &value) <= 0 ||
	    value == NULL)
		return "";
	return value;
}

static int act_webhook_start(const struct sieve_action_exec_env *aenv,
			     void **tr_context)
{
	*tr_context = p_new(sieve_result_pool(aenv->result), struct webhook_transaction, 1);
	return SIEVE_EXEC_OK;
}

static int act_webhook_execute(const struct sieve_action_exec_env *aenv,
			       void *tr_context, bool *keep ATTR_UNUSED)
{
	struct webhook_transaction *trans = tr_context;
	const struct sieve_execute_env *eenv = aenv->exec_env;
	const struct webhook_action *act = aenv->action->context;
	const struct mw_webhook_config *config = ext_webhook_config(aenv->action->ext);
	struct mail *mail = (aenv->action->mail != NULL ? aenv->action->mail :
			     sieve_message_get_mail(aenv->msgctx));
	struct mw_webhook_request req;
	struct mw_webhook_message msg;
	const char *message_id = NULL;
	uoff_t size = 0;
	buffer_t *raw = NULL;
	unsigned int field_count;

	i_zero(&req);
	req.target = act->target;
	req.title = act->title;
	req.message = act->message;
	req.priority = act->priority;
	req.fields = array_get(&act->fields, &field_count);
	req.field_count = field_count;
	req.url = act->url;

	i_zero(&msg);
	msg.user = (eenv->svinst->username == NULL ? "" : eenv->svinst->username);
	msg.mailbox = webhook_mailbox(aenv);
	msg.envelope_from = "";
	if (eenv->msgdata != NULL && eenv->msgdata->envelope.mail_from != NULL)
		msg.envelope_from = smtp_address_encode(eenv->msgdata->envelope.mail_from);
	msg.header_from = webhook_header(mail, "From");
	msg.to = webhook_header(mail, "To");
	msg.subject = webhook_header(mail, "Subject");
	if (mail == NULL || mail_get_first_header(mail, "Message-ID", &message_id) <= 0 ||
	    message_id == NULL)
		message_id = "";
	msg.message_id = t_str_trim(message_id, " \t\r\n");
	if (mail != NULL && mail_get_physical_size(mail, &size) < 0)
		size = 0;
	msg.size = size;

	if (mail != NULL && mw_webhook_snippet_bytes(config, act->target) > 0) {
		struct istream *input;
		const unsigned char *data;
		size_t data_size;

		raw = t_buffer_create(8192);
		if (mail_get_stream(mail, NULL, NULL, &input) >= 0) {
			i_stream_seek(input, 0);
			while (raw->used < MAILWARD_SNIPPET_READ_MAX &&
			       i_stream_read_more(input, &data, &data_size) > 0) {
				size_t take = I_MIN(data_size,
						    MAILWARD_SNIPPET_READ_MAX - raw->used);
				buffer_append(raw, data, take);
				i_stream_skip(input, take);
			}
		}
		msg.raw = raw->data;
		msg.raw_size = raw->used;
	}

	/* The result is logged inside; a failure never fails delivery. */
	if (trans != NULL && trans->pending == NULL) {
		trans->pending = mw_webhook_prepare(config, &req, &msg, mw_log_action,
						    (void *)aenv, NULL);
	}
	return SIEVE_EXEC_OK;
}

static int act_webhook_commit(const struct sieve_action_exec_env *aenv,
			      void *tr_context)
{
	struct webhook_transaction *trans = tr_context;

	/* Logged inside; a failure never fails delivery. */
	if (trans != NULL && trans->pending != NULL)
		(void)mw_webhook_publish(trans->pending, mw_log_action, (void *)aenv);
	return SIEVE_EXEC_OK;
}

static void act_webhook_end(const struct sieve_action_exec_env *aenv,
			    struct webhook_transaction *trans)
{
	if (trans != NULL && trans->pending != NULL) {
		mw_webhook_finish(trans->pending, mw_log_action, (void *)aenv);
		trans->pending = NULL;
	}
}

static void act_webhook_rollback(const struct sieve_action_exec_env *aenv,
				 void *tr_context, bool success ATTR_UNUSED)
{
	act_webhook_end(aenv, tr_context);
}

static void act_webhook_finish(const struct sieve_action_exec_env *aenv,
			       void *tr_context, int status ATTR_UNUSED)
{
	act_webhook_end(aenv, tr_context);
}

/*
 * Plugin
 */

const char *sieve_mailward_plugin_version = PIGEONHOLE_ABI_VERSION;

struct mailward_plugin_context {
	const struct sieve_extension *ext;
};

void sieve_mailward_plugin_load(struct sieve_instance *svinst, void **context)
{
	struct mailward_plugin_context *pctx = i_new(struct mailward_plugin_context, 1);
	const char *path = mw_config_path(svinst);
	struct mw_webhook_config *config;

	*context = pctx;
	config = mw_webhook_config_load(path, mw_log_instance, svinst);
	if (config == NULL) {
		e_error(svinst->event,
			"mailward: extension vnd.mailward.webhook is unavailable "
			"because %s could not be loaded (see the error above); "
			"delivery is not affected", path);
		return;
	}
	if (mw_webhook_target_count(config) == 0) {
		e_debug(svinst->event,
			"mailward: no [target.*] in %s: extension "
			"vnd.mailward.webhook is unconfigured", path);
		mw_webhook_config_free(config);
		return;
	}
	mw_webhook_config_free(config);
	pctx->ext = sieve_extension_register(svinst, &webhook_extension, FALSE);
	e_debug(svinst->event, "mailward: Sieve plugin loaded (%s)", path);
}

void sieve_mailward_plugin_unload(struct sieve_instance *svinst ATTR_UNUSED,
				  void *context)
{
	struct mailward_plugin_context *pctx = context;

	if (pctx == NULL)
		return;
	if (pctx->ext != NULL)
		sieve_extension_unregister(pctx->ext);
	i_free(pctx);
}

void sieve_mailward_plugin_init(void)
{
}

void sieve_mailward_plugin_deinit(void)
{
}
