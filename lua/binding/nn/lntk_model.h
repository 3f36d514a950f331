/* lntk_model.h: what the model binding files share (private to lua/binding/nn/lntk_model*.c). */
#ifndef LNTK_MODEL_H
#define LNTK_MODEL_H

#include "lntk.h"

#define LNTK_MODEL_MT "ntklab.model"

/* Checks that argument idx is a live model; raises "attempt to use a released model" otherwise. */
ntk_model *lntk_checkmodel(lua_State *L, int idx);
/* Registers ntklab.model_ntk and ntklab.model_ntk_reference (called by lntk_open_model). */
void lntk_open_model_kernel(lua_State *L);

#endif
