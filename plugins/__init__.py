"""nonebot2 plugins: the platform edges (QQ, WeChat), the commands, and the core's host."""
