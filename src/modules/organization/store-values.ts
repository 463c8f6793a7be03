/**
 * The value checks a JSON schema cannot express — IANA time zones, ISO country codes, opening hours in
 * order — shared by the store routes. They produce field errors, gathered into one 400
 * (`request.validation_failed`) naming every failing field. Time zones, currencies and locales are
 * checked by the tenant settings' own checks (tenant-settings.ts), so a value a tenant may set is exactly
 * one a store may set.
 */
import { AppError, type FieldError } from '../../core/http/errors.js';
import { MAX_INTERVALS_PER_DAY, WEEKDAYS, type OpeningHours } from './stores.schemas.js';
import { isKnownTimeZone } from './tenant-settings.js';

/** The 249 officially assigned ISO 3166-1 alpha-2 codes (Intl knows no list of countries only). */
const COUNTRY_CODES = new Set(
  (
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL ' +
    'CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU ' +
    'GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC ' +
    'MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT ' +
    'PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA ' +
    'UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW'
  ).split(' '),
);

export function isCountryCode(code: string): boolean {
  return COUNTRY_CODES.has(code);
}

const minutes = (time: string) => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));

/** Each day's intervals must open before they close, in time order, without overlapping. */
export function openingHoursErrors(hours: OpeningHours, pointer: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const day of WEEKDAYS) {
    const intervals = hours[day];
    if (!intervals) continue;
    if (intervals.length > MAX_INTERVALS_PER_DAY) errors.push({ in: 'body', field: `${pointer}/${day}`, message: `at most ${MAX_INTERVALS_PER_DAY} intervals per day` });
    intervals.forEach((interval, index) => {
      const at = `${pointer}/${day}/${index}`;
      if (minutes(interval.open) >= minutes(interval.close)) errors.push({ in: 'body', field: `${at}/close`, message: 'must be after open (hours past midnight belong to the next day)' });
      const previous = intervals[index - 1];
      if (previous && minutes(interval.open) < minutes(previous.close)) errors.push({ in: 'body', field: `${at}/open`, message: 'must not be before the previous interval closes' });
    });
  }
  return errors;
}

/** Throws the 400 for gathered field errors (nothing when there are none). */
export function assertNoFieldErrors(errors: FieldError[]): void {
  if (errors.length === 0) return;
  throw new AppError('request.validation_failed', `The request is invalid: ${errors.map((e) => `${e.in}${e.field} ${e.message}`).join('; ')}.`, { errors });
}

/** Pushes a field error to `errors` unless `value` is an IANA time zone (null and undefined pass). */
export function checkTimeZone(value: string | null | undefined, field: string, errors: FieldError[]): void {
  if (typeof value === 'string' && !isKnownTimeZone(value)) errors.push({ in: 'body', field, message: 'must be an IANA time zone, e.g. Africa/Nairobi, or UTC' });
}

/** JSON with object keys sorted, so values read back from jsonb (which reorders keys) compare equal. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : inner,
  );
}

/** Whether two JSON values are the same, whatever the order of their object keys. */
export function isSameValue(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
