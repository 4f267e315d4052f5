/*
 * <linux/bug.h>: BUG() and BUG_ON() stop the machine with kmemsim's oops
 * report (<kmemsim/kernel.h>); WARN_ON() and WARN() print Linux's
 * "WARNING: CPU: 0 PID: N at FILE:LINE FUNCTION" block through the kernel's
 * warn_slowpath_null()/warn_slowpath_fmt() and go on.
 */
#ifndef _LINUX_BUG_H
#define _LINUX_BUG_H
#include <linux/types.h>

void warn_slowpath_null(const char *file, const int line);
__printf(3, 4) void warn_slowpath_fmt(const char *file, const int line, const char *fmt, ...);

#define WARN_ON(condition) ({						\
	int __ret_warn_on = !!(condition);				\
	if (unlikely(__ret_warn_on))					\
		warn_slowpath_null(__FILE__, __LINE__);			\
	unlikely(__ret_warn_on);					\
})

#define WARN(condition, format...) ({					\
	int __ret_warn_on = !!(condition);				\
	if (unlikely(__ret_warn_on))					\
		warn_slowpath_fmt(__FILE__, __LINE__, format);		\
	unlikely(__ret_warn_on);					\
})

#define WARN_ON_ONCE(condition) ({					\
	static bool __warned;						\
	int __ret_warn_once = !!(condition);				\
	if (unlikely(__ret_warn_once && !__warned)) {			\
		__warned = true;					\
		warn_slowpath_null(__FILE__, __LINE__);			\
	}								\
	unlikely(__ret_warn_once);					\
})

#define WARN_ONCE(condition, format...) ({				\
	static bool __warned;						\
	int __ret_warn_once = !!(condition);				\
	if (unlikely(__ret_warn_once && !__warned)) {			\
		__warned = true;					\
		warn_slowpath_fmt(__FILE__, __LINE__, format);		\
	}								\
	unlikely(__ret_warn_once);					\
})

#define BUILD_BUG_ON_ZERO(e) ((int)(sizeof(struct { int:(-!!(e)); })))
#define BUILD_BUG_ON_MSG(cond, msg) BUILD_BUG_ON(cond)
#define BUILD_BUG() BUILD_BUG_ON(1)
#ifndef static_assert
#define static_assert(expr, ...) _Static_assert(expr, #expr)
#endif

#endif
