CREATE SEQUENCE "public"."entitlements_revision_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "subscriptions" (
	"tenant_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"plan_id" uuid NOT NULL,
	"status" text NOT NULL,
	"billing_cycle" text DEFAULT 'monthly' NOT NULL,
	"current_period_start" timestamp with time zone NOT NULL,
	"current_period_end" timestamp with time zone NOT NULL,
	"trial_ends_at" timestamp with time zone,
	"grace_ends_at" timestamp with time zone,
	"cancel_at_period_end" boolean DEFAULT false NOT NULL,
	"canceled_at" timestamp with time zone,
	"cancel_reason" text,
	"ended_at" timestamp with time zone,
	"pending_plan_id" uuid,
	"pending_billing_cycle" text,
	"payment_provider" text,
	"payment_reference" text,
	"payment_method_updated_at" timestamp with time zone,
	"feature_overrides" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"limit_overrides" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"revision" bigint DEFAULT nextval('entitlements_revision_seq') NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "subscriptions_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "subscriptions_status_check" CHECK ("subscriptions"."status" in ('trialing', 'active', 'past_due', 'canceled', 'expired')),
	CONSTRAINT "subscriptions_cycle_check" CHECK ("subscriptions"."billing_cycle" in ('monthly', 'yearly') and coalesce("subscriptions"."pending_billing_cycle", 'monthly') in ('monthly', 'yearly')),
	CONSTRAINT "subscriptions_period_check" CHECK ("subscriptions"."current_period_end" > "subscriptions"."current_period_start"),
	CONSTRAINT "subscriptions_trial_check" CHECK ("subscriptions"."status" <> 'trialing' or "subscriptions"."trial_ends_at" is not null),
	CONSTRAINT "subscriptions_grace_check" CHECK ("subscriptions"."status" <> 'past_due' or "subscriptions"."grace_ends_at" is not null),
	CONSTRAINT "subscriptions_ended_check" CHECK (("subscriptions"."status" in ('canceled', 'expired')) = ("subscriptions"."ended_at" is not null)),
	CONSTRAINT "subscriptions_pending_check" CHECK (("subscriptions"."pending_plan_id" is null) = ("subscriptions"."pending_billing_cycle" is null)),
	CONSTRAINT "subscriptions_payment_check" CHECK (("subscriptions"."payment_provider" is null) = ("subscriptions"."payment_reference" is null)),
	CONSTRAINT "subscriptions_cancel_reason_length" CHECK (char_length("subscriptions"."cancel_reason") <= 500)
);
--> statement-breakpoint
ALTER TABLE "plans" ADD COLUMN "revision" bigint DEFAULT nextval('entitlements_revision_seq') NOT NULL;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_tenant_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_plan_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."plans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_pending_plan_fk" FOREIGN KEY ("pending_plan_id") REFERENCES "public"."plans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "subscriptions_tenant_key" ON "subscriptions" USING btree ("tenant_id");