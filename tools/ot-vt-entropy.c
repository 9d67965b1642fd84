/*
 * Deterministic entropy for the virtual-time build of OpenThread's simulated node
 * (build/ot-vt/ot-cli-ftd), linked in with -Wl,--wrap=otPlatEntropyGet by tools/build-ot.sh.
 *
 * The simulation platform's otPlatEntropyGet (examples/platforms/simulation/entropy.c) reads
 * /dev/urandom, and it is OpenThread's only source of randomness: the non-crypto PRNG
 * (src/core/common/random.cpp) and mbedtls' CTR-DRBG (src/core/crypto/crypto_platform.cpp)
 * are both seeded from it. A co-simulation that must replay (sim/src/ot_virtual.rs) starts
 * each node with OT_VT_SEED=<u64>; the node's entropy is then a splitmix64 stream of that
 * seed. Without OT_VT_SEED the node reads /dev/urandom, as the unwrapped platform does.
 *
 * Simulation only: the stream is predictable by design.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openthread/platform/entropy.h>

static int      sSeeded;
static int      sDeterministic;
static uint64_t sState;

static uint64_t splitmix64(void)
{
    uint64_t z = (sState += 0x9e3779b97f4a7c15ull);
    z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z          = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

otError __wrap_otPlatEntropyGet(uint8_t *aOutput, uint16_t aOutputLength)
{
    if (aOutput == NULL || aOutputLength == 0)
    {
        return OT_ERROR_INVALID_ARGS;
    }

    if (!sSeeded)
    {
        const char *seed = getenv("OT_VT_SEED");
        char       *end  = NULL;

        sSeeded = 1;
        if (seed != NULL && *seed != '\0')
        {
            sState = strtoull(seed, &end, 0);
            if (*end != '\0')
            {
                fprintf(stderr, "OT_VT_SEED: not a number: %s\n", seed);
                exit(1);
            }
            sDeterministic = 1;
        }
    }

    if (sDeterministic)
    {
        for (uint16_t i = 0; i < aOutputLength; i += 8)
        {
            uint64_t r = splitmix64();
            for (uint16_t j = 0; j < 8 && i + j < aOutputLength; j++)
            {
                aOutput[i + j] = (uint8_t)(r >> (8 * j));
            }
        }
        return OT_ERROR_NONE;
    }

    FILE  *file = fopen("/dev/urandom", "rb");
    size_t got  = 0;

    if (file != NULL)
    {
        got = fread(aOutput, 1, aOutputLength, file);
        fclose(file);
    }
    return got == aOutputLength ? OT_ERROR_NONE : OT_ERROR_FAILED;
}
