import { z } from 'zod';

/** Small builders shared by the schema files. */

export const ms = (description: string, fallback: number) =>
  z.number().int().min(0).default(fallback).describe(description);

export const positive = (description: string, fallback: number) =>
  z.number().int().min(1).default(fallback).describe(description);

/** A bot kind's name (`bots.<name>`), also where another key names a kind. */
export const KIND_NAME = /^[a-z][a-z0-9-]{0,39}$/;

/** A rule, group or webhook name. */
export const RULE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
