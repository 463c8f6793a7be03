CREATE TABLE "plans" (
	"id" uuid PRIMARY KEY NOT NULL,
	"code" text NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"currency" text NOT NULL,
	"monthly_price" bigint,
	"yearly_price" bigint,
	"trial_days" integer DEFAULT 0 NOT NULL,
	"limits" jsonb NOT NULL,
	"features" text[] DEFAULT '{}'::text[] NOT NULL,
	"is_public" boolean DEFAULT true NOT NULL,
	"sort_order" integer DEFAULT 0 NOT NULL,
	"archived_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "plans_code_format" CHECK ("plans"."code" ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
	CONSTRAINT "plans_name_length" CHECK (char_length("plans"."name") between 1 and 100),
	CONSTRAINT "plans_currency_format" CHECK ("plans"."currency" ~ '^[A-Z]{3}$'),
	CONSTRAINT "plans_prices_check" CHECK (coalesce("plans"."monthly_price", 0) >= 0 and coalesce("plans"."yearly_price", 0) >= 0),
	CONSTRAINT "plans_trial_days_check" CHECK ("plans"."trial_days" between 0 and 365)
);
--> statement-breakpoint
CREATE UNIQUE INDEX "plans_code_key" ON "plans" USING btree ("code");