// Generated from the writers' pydantic models by shared/api/doc_schemas.py: do not edit.
import type { Timestamp } from "firebase/firestore";

/** Firestore document meetings/{meeting_id}, written by sync_schedule. */
export interface MeetingDoc {
  meeting_id: string;
  year: number;
  round: number;
  name: string;
  official_name: string;
  country: string;
  location: string;
  event_format: "conventional" | "sprint" | "sprint_shootout" | "sprint_qualifying" | "testing";
  /** circuit offset from UTC on race day */
  gmt_offset: string;
  /** start of the first session */
  start_utc: Timestamp;
  /** start of the last session */
  end_utc: Timestamp;
  session_ids: Array<string>;
  published?: boolean;
  /** IANA zone of the circuit */
  time_zone?: string | null;
  /** OpenF1 meeting_key */
  meeting_key?: number | null;
  /** OpenF1 circuit_key */
  circuit_key?: number | null;
}

/** Firestore document meetings/{meeting_id}/timeline/weekend, written by sync_schedule. */
export interface WeekendTimelineDoc {
  meeting_id: string;
  /** the circuit's IANA zone (start_local) */
  time_zone: string;
  /** the zone of start_in_tz */
  tz: string;
  entries: Array<TimelineEntry>;
}

/** Firestore document sessions/{session_id}, written by sync_schedule (schedule fields) and the live pipeline (live fields), merged. */
export interface SessionDoc {
  session_id: string;
  meeting_id?: string | null;
  year?: number | null;
  round?: number | null;
  /** F1's session name, e.g. 'Sprint', 'Race' */
  name?: string | null;
  /** fp1, fp2, fp3, sq, s, q or r */
  code?: string | null;
  start_utc?: Timestamp | null;
  /** scheduled end (OpenF1), UTC */
  end_utc?: Timestamp | null;
  /** wall-clock start at the circuit */
  start_local?: string | null;
  /** circuit offset from UTC, '+08:00' */
  gmt_offset?: string | null;
  /** the circuit's IANA zone */
  time_zone?: string | null;
  series?: string | null;
  published?: boolean | null;
  cancelled?: boolean | null;
  /** OpenF1 session_key */
  session_key?: number | null;
  /** OpenF1 meeting_key */
  meeting_key?: number | null;
  meeting_name?: string | null;
  session_name?: string | null;
  session_type?: string | null;
  /** F1 SessionStatus: Started, Finished... */
  status?: string | null;
  track_status?: TrackStatus | null;
  current_lap?: number | null;
  total_laps?: number | null;
  started_utc?: Timestamp | null;
  updated_utc?: Timestamp | null;
}

/** Firestore document sessions/{session_id}/live/state, written by live. */
export interface TimingTowerDoc {
  session_id: string;
  updated_utc?: Timestamp | null;
  session_status?: string | null;
  track_status?: TrackStatus;
  current_lap?: number | null;
  total_laps?: number | null;
  /** ordered by position */
  rows?: Array<DriverRow>;
}

/** One row of the timing tower (and the ``drivers/{n}`` document). */
export interface DriverRowDoc {
  driver_number: string;
  abbreviation?: string | null;
  full_name?: string | null;
  team_name?: string | null;
  team_colour?: string | null;
  position?: number | null;
  /** as displayed: '+1.234', '1 L', 'LAP 12' */
  gap_to_leader?: string | null;
  interval?: string | null;
  last_lap_ms?: number | null;
  best_lap_ms?: number | null;
  sectors_ms?: Array<number | null>;
  /** laps completed */
  laps?: number;
  in_pit?: boolean;
  pit_out?: boolean;
  pit_stops?: number;
  retired?: boolean;
  stopped?: boolean;
  compound?: string | null;
  tyre_age_laps?: number | null;
}

/** Firestore document sessions/{session_id}/laps/{driver_number}_{lap:03d}, written by live. */
export interface LapDoc {
  session_id: string;
  driver_number: string;
  lap_number: number;
  /** null when F1 published no time (e.g. in-laps) */
  lap_time_ms?: number | null;
  sector_times_ms?: Array<number | null>;
  /** SOFT, MEDIUM, HARD, INTERMEDIATE, WET, ... as F1 names it */
  compound?: string | null;
  /** laps on this set at the end of the lap, prior use included */
  tyre_age_laps?: number | null;
  stint?: number | null;
  pit_in?: boolean;
  pit_out?: boolean;
  /** position at the end of the lap */
  position?: number | null;
  completed_utc?: Timestamp | null;
  source?: string;
}

/** Firestore document sessions/{session_id}/race_control/{n:04d}, written by live. */
export interface RaceControlDoc {
  session_id: string;
  /** F1's message index within the session */
  n: number;
  utc: Timestamp;
  lap?: number | null;
  category?: string | null;
  message: string;
  flag?: string | null;
  scope?: string | null;
  sector?: number | null;
  driver_number?: string | null;
  status?: string | null;
}

/** Firestore document sessions/{session_id}/weather/{n:04d}, written by live. */
export interface WeatherDoc {
  session_id: string;
  /** sample index within the session (about one a minute) */
  n: number;
  utc: Timestamp;
  air_temp_c?: number | null;
  track_temp_c?: number | null;
  humidity_pct?: number | null;
  pressure_hpa?: number | null;
  rainfall?: boolean;
  wind_speed_ms?: number | null;
  wind_direction_deg?: number | null;
}

/** ``races/{race_id}``: the travel app's fields and the mapping ``pitlane races map`` adds. */
export interface RaceDoc {
  race_id: string;
  name: string;
  circuit: string;
  date: string;
  country?: string | null;
  location?: string | null;
  season?: number | null;
  openf1_meeting_key?: number | null;
  openf1_session_key?: number | null;
  mapping_status?: string | null;
  unmapped_reason?: string | null;
  mapping_input?: string | null;
  mapped_utc?: Timestamp | null;
}

/** Firestore document predictions/{session_id}, written by predict. */
export interface PredictionDoc {
  session_id: string;
  kind: "prerace" | "live" | "final" | "grid";
  model_version: string;
  season?: number | null;
  race_name?: string | null;
  /** laps the leader had completed (0: before the start) */
  lap?: number;
  total_laps?: number | null;
  track_status?: string | null;
  /** what caused it: prerace, lap_completed, track_status, pit_in, ... */
  trigger: string;
  event_id?: string | null;
  /** the race time the prediction describes */
  as_of_utc: Timestamp;
  computed_utc: Timestamp;
  /** orders a session's predictions: '0|prerace' first, then as_of_utc|event id */
  seq: string;
  /** writes of the current document so far (0 in the history) */
  revision?: number;
  drivers?: Array<DriverOdds>;
  grid?: Array<GridOdds>;
  /** the live simulation's constants */
  params?: RaceParams | null;
}

export interface DriverOdds {
  driver_number: string;
  name?: string | null;
  code?: string | null;
  team?: string | null;
  /** starting slot, 1 = pole (0: pit lane) */
  grid?: number | null;
  /** place in the race when predicted */
  position?: number | null;
  running?: boolean;
  p_win: number;
  p_podium: number;
  p_points: number;
  win_interval?: Array<unknown>;
  podium_interval?: Array<unknown>;
  points_interval?: Array<unknown>;
  /** pre-race expected finish, 1 first, 0 last */
  pace_score?: number | null;
  /** behind the leader when predicted, seconds */
  gap_s?: number | null;
  stops_made?: number | null;
}

export interface DriverRow {
  driver_number: string;
  abbreviation?: string | null;
  full_name?: string | null;
  team_name?: string | null;
  team_colour?: string | null;
  position?: number | null;
  /** as displayed: '+1.234', '1 L', 'LAP 12' */
  gap_to_leader?: string | null;
  interval?: string | null;
  last_lap_ms?: number | null;
  best_lap_ms?: number | null;
  sectors_ms?: Array<number | null>;
  /** laps completed */
  laps?: number;
  in_pit?: boolean;
  pit_out?: boolean;
  pit_stops?: number;
  retired?: boolean;
  stopped?: boolean;
  compound?: string | null;
  tyre_age_laps?: number | null;
}

export interface GridOdds {
  driver_number: string;
  name?: string | null;
  team?: string | null;
  predicted_grid: number;
  /** best lap of the session so far */
  best_lap_ms?: number | null;
  /** expected best lap at the end of the session */
  pace_ms?: number | null;
  p_pole: number;
  /** reaching Q3 (a top-ten grid slot) */
  p_top10: number;
  eliminated?: boolean;
}

export interface RaceParams {
  /** time lost to a pit stop under green, seconds */
  pit_loss_s?: number;
  /** chance of a safety car starting on a given lap */
  sc_per_lap?: number;
  /** chance a running car retires on a given lap */
  dnf_per_lap?: number;
  /** longest usual stint on one set of tyres, laps */
  max_stint_laps?: number;
  /** typical green-flag lap time */
  lap_time_s?: number;
}

export interface TimelineEntry {
  series: "f1" | "f2" | "f3" | "f1-academy";
  name: string;
  code: string;
  start_utc: string;
  /** wall clock at the circuit (naive) */
  start_local: string;
  start_in_tz: string;
  end_utc?: string | null;
  /** F1 sessions only */
  session_id?: string | null;
  cancelled?: boolean;
  tbc?: boolean;
}

export type TrackStatus = "green" | "yellow" | "sc" | "red" | "vsc" | "vsc_ending" | "unknown";
