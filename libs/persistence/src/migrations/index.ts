import { CreateProfileTag1764000000000 } from './1764000000000-create-profile-tag.migration';
import { CreateMinuteCube1764000000001 } from './1764000000001-create-minute-cube.migration';
import { CreateConsumerOffset1764000000002 } from './1764000000002-create-consumer-offset.migration';
import { ProfileList1764000000003 } from './1764000000003-profile-list.migration';
import { ProfileListWrittenAt1764000000004 } from './1764000000004-profile-list-written-at.migration';
import { CreateTradeStatsWindow1764000000005 } from './1764000000005-create-trade-stats-window.migration';
import { CubeDimensionIds1764000000006 } from './1764000000006-cube-dimension-ids.migration';
import { TradeStatsRevision1764000000007 } from './1764000000007-trade-stats-revision.migration';
import { TradeStatsUnrecovered1764000000008 } from './1764000000008-trade-stats-unrecovered.migration';

/** Every migration, oldest first. Append new ones; never edit one that has shipped. */
export const MIGRATIONS = [
  CreateProfileTag1764000000000,
  CreateMinuteCube1764000000001,
  CreateConsumerOffset1764000000002,
  ProfileList1764000000003,
  ProfileListWrittenAt1764000000004,
  CreateTradeStatsWindow1764000000005,
  CubeDimensionIds1764000000006,
  TradeStatsRevision1764000000007,
  TradeStatsUnrecovered1764000000008,
];
