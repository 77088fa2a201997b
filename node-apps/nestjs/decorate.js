// Nest's decorators applied without a compiler. TypeScript (and Babel) turn
// `@Controller('status') class C { @Get() m(@Query('ms') ms) {} }` into calls of
// `Reflect.decorate` (reflect-metadata's, which Nest itself requires); this file makes the
// same calls from plain JavaScript, so the app runs as written, with no build step in the
// image or on the host (faceoff's local runtime runs it too).
import 'reflect-metadata';

// `@decorator` on a method's parameter `index`, as TypeScript's `__param` helper.
export function param(index, decorator) {
  return (target, key) => decorator(target, key, index);
}

// decorate(Class, [class decorators], { method: [method and param(...) decorators] })
export function decorate(cls, classDecorators, methods = {}) {
  for (const [name, decorators] of Object.entries(methods)) {
    const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, name);
    const decorated = Reflect.decorate(decorators, cls.prototype, name, descriptor);
    Object.defineProperty(cls.prototype, name, decorated || descriptor);
  }
  return Reflect.decorate(classDecorators, cls);
}
