import { describe, expect, it } from 'vitest';
import { splitGucList } from '../lambdas/postgres/cloneSync.js';

/** The stored form of a list setting (search_path, temp_tablespaces), as PostgreSQL writes it. */
describe('splitGucList', () => {
  it('splits what flatten_set_variable_args stored, undoing its quoting and keeping case', () => {
    expect(splitGucList('orders, "$user", public')).toEqual(['orders', '$user', 'public']);
    expect(splitGucList('"My Schema", "a,b", "say ""hi"""')).toEqual(['My Schema', 'a,b', 'say "hi"']);
    expect(splitGucList('Mixed')).toEqual(['Mixed']);
    expect(splitGucList('""')).toEqual(['']);
    expect(splitGucList('')).toEqual([]);
  });

  it('answers undefined for text that is not a list (the value is then written back as one literal)', () => {
    expect(splitGucList('"open')).toBeUndefined();
    expect(splitGucList('a,,b')).toBeUndefined();
    expect(splitGucList('a b')).toBeUndefined();
  });
});
