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
