import type { Capability } from '../capability.ts';
import { access, homePanels, register } from './routes.ts';
import { seedDemo } from './demo.ts';

/** The to-do list (待辦事項): every open duty of the signed-in person, derived from the records. */
export const todos: Capability = {
  name: 'todos',
  access,
  register,
  homePanels,
  seedDemo,
};
