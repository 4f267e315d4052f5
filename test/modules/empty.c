/* No init_module, no cleanup_module: loads, runs nothing (the run says so). */
int empty_module_data = 1;
