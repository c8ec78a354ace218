/* The suite's version, reported by /info and every daemon's status. */
#ifndef ENCLAVR_VERSION_H
#define ENCLAVR_VERSION_H

#define ENCLAVR_VERSION "0.1.0"

#endif
