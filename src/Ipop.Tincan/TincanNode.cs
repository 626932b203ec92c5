using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ipop.Tincan;

/// <summary>Creates Tincan nodes without dependency injection.</summary>
public static class TincanNode
{
    /// <summary>
    /// Creates a node: validates <paramref name="options"/>, loads or creates the key file. Call
    /// <see cref="ITincan.StartAsync"/> to open the socket, then <see cref="ITincan.CreateLink"/> and
    /// <see cref="ITincan.AttachInterface"/>.
    /// </summary>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">The options are invalid; the message names every key at fault.</exception>
    public static ITincan Create(TincanOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        TincanOptionsValidator.ThrowIfInvalid(options);
        StaticKeyPair keys = options.PrivateKeyPath is null ? StaticKeyPair.Generate() : NodeKeyFile.LoadOrCreate(options.PrivateKeyPath);
        return new LinkManager(options, keys, loggerFactory ?? NullLoggerFactory.Instance, timeProvider ?? TimeProvider.System);
    }
}
