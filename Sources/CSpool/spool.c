#include "CSpool.h"
