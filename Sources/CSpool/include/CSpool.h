#ifndef CSPOOL_H
#define CSPOOL_H
#endif
