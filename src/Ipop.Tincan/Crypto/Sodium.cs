using System.Runtime.InteropServices;

namespace Ipop.Tincan.Crypto;

/// <summary>
/// The libsodium functions Ipop calls directly: SHA-256, HMAC-SHA-256 and random bytes. .NET's own SHA256, HMACSHA256,
/// HKDF and RandomNumberGenerator go through OpenSSL on Linux, and loading libssl/libcrypto for them alone costs an
/// idle node ~3.7 MiB of resident memory (issue 14); libsodium is loaded anyway for X25519 and ChaCha20-Poly1305.
/// </summary>
/// <remarks>
/// The library name is NSec's own (<c>"libsodium"</c>, no resolver), so both resolve to the same file: the
/// <c>libsodium.so</c> beside the AOT binary, or the libsodium package's runtimes/ asset under <c>dotnet</c>.
/// The static constructor runs <c>sodium_init</c> (idempotent and thread-safe; NSec calls it too) before any other
/// function here: libsodium needs it before <c>randombytes_buf</c>.
/// The state sizes are libsodium's (<c>crypto_hash_sha256_statebytes()</c>, <c>crypto_auth_hmacsha256_statebytes()</c>;
/// a test checks them); callers keep a state in a <c>stackalloc ulong[]</c>, which gives it the 8-byte alignment of
/// its <c>uint64_t</c> counter.
/// </remarks>
internal static unsafe partial class Sodium
{
    private const string Library = "libsodium";

    /// <summary>Size of <c>crypto_hash_sha256_state</c>, in 64-bit words.</summary>
    public const int Sha256StateWords = 104 / sizeof(ulong);

    /// <summary>Size of <c>crypto_auth_hmacsha256_state</c>, in 64-bit words.</summary>
    public const int HmacSha256StateWords = 208 / sizeof(ulong);

#pragma warning disable CA1065 // A type initializer that cannot load its library has nothing better to throw.
    static Sodium()
    {
        if (sodium_init() < 0)
        {
            throw new InvalidOperationException("libsodium failed to initialize (sodium_init returned an error).");
        }
    }
#pragma warning restore CA1065

    [LibraryImport(Library)]
    internal static partial int sodium_init();

    [LibraryImport(Library)]
    internal static partial nuint crypto_hash_sha256_statebytes();

    [LibraryImport(Library)]
    internal static partial nuint crypto_auth_hmacsha256_statebytes();

    [LibraryImport(Library)]
    internal static partial int crypto_hash_sha256(byte* output, byte* input, ulong inputLength);

    [LibraryImport(Library)]
    internal static partial int crypto_hash_sha256_init(ulong* state);

    [LibraryImport(Library)]
    internal static partial int crypto_hash_sha256_update(ulong* state, byte* input, ulong inputLength);

    [LibraryImport(Library)]
    internal static partial int crypto_hash_sha256_final(ulong* state, byte* output);

    [LibraryImport(Library)]
    internal static partial int crypto_auth_hmacsha256_init(ulong* state, byte* key, nuint keyLength);

    [LibraryImport(Library)]
    internal static partial int crypto_auth_hmacsha256_update(ulong* state, byte* input, ulong inputLength);

    [LibraryImport(Library)]
    internal static partial int crypto_auth_hmacsha256_final(ulong* state, byte* output);

    [LibraryImport(Library)]
    internal static partial void randombytes_buf(byte* buffer, nuint size);

    [LibraryImport(Library)]
    internal static partial uint randombytes_uniform(uint upperBound);
}
