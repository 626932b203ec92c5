using System.Globalization;
using System.Net;
using Microsoft.Extensions.Options;

namespace Ipop.Tincan;

/// <summary>Checks <see cref="TincanOptions"/>; every message names the key at fault and the value it got.</summary>
internal sealed class TincanOptionsValidator : IValidateOptions<TincanOptions>
{
    private const string P = TincanOptions.SectionName + ":";

    public ValidateOptionsResult Validate(string? name, TincanOptions options)
    {
        List<string> errors = Collect(options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> listing every problem.</summary>
    public static void ThrowIfInvalid(TincanOptions options)
    {
        List<string> errors = Collect(options);
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(TincanOptions), errors);
        }
    }

    internal static List<string> Collect(TincanOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(o.ListenAddress) || !IPAddress.TryParse(o.ListenAddress, out _))
        {
            errors.Add($"{P}ListenAddress must be an IPv4 or IPv6 address, got '{o.ListenAddress}'");
        }

        Range(errors, "ListenPort", o.ListenPort, 0, 65535);
        Range(errors, "Mtu", o.Mtu, 576, 9000);
        Range(errors, "HandshakeAttempts", o.HandshakeAttempts, 1, 100);
        Range(errors, "SocketBufferBytes", o.SocketBufferBytes, 64 * 1024, 256 * 1024 * 1024);
        Range(errors, "UdpBatchSize", o.UdpBatchSize, 1, 1024);
        Duration(errors, "RekeyAfterTime", o.RekeyAfterTime, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1));
        Duration(errors, "KeepaliveInterval", o.KeepaliveInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1));
        Duration(errors, "HandshakeTimeout", o.HandshakeTimeout, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1));
        Range(errors, "PathMtuMaxProbes", o.PathMtuMaxProbes, 1, 10);
        Duration(errors, "PathMtuProbeTimeout", o.PathMtuProbeTimeout, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1));
        Duration(errors, "PathMtuRaiseInterval", o.PathMtuRaiseInterval, TimeSpan.FromSeconds(10), TimeSpan.FromDays(1));
        Duration(errors, "PathMtuConfirmInterval", o.PathMtuConfirmInterval, TimeSpan.FromMilliseconds(500), TimeSpan.FromHours(1));
        if (o.RekeyAfterMessages < 1 || o.RekeyAfterMessages > 1L << 60)
        {
            errors.Add($"{P}RekeyAfterMessages must be between 1 and 2^60, got {o.RekeyAfterMessages.ToString(CultureInfo.InvariantCulture)}");
        }

        if (o.PrivateKeyPath is not null && string.IsNullOrWhiteSpace(o.PrivateKeyPath))
        {
            errors.Add($"{P}PrivateKeyPath must be a file path or absent, got an empty string");
        }

        if (o.StatePath is not null && (string.IsNullOrWhiteSpace(o.StatePath) || o.StatePath.EndsWith('/')))
        {
            errors.Add($"{P}StatePath must be a file path or absent, got '{o.StatePath}'");
        }
        else if (o.StatePath is not null && o.StatePath == o.PrivateKeyPath)
        {
            errors.Add($"{P}StatePath must not be the key file (Tincan:PrivateKeyPath), got '{o.StatePath}'");
        }

        for (int i = 0; i < o.StunServers.Count; i++)
        {
            StunServerOptions s = o.StunServers[i];
            string key = $"StunServers:{i.ToString(CultureInfo.InvariantCulture)}";
            if (s is null || string.IsNullOrWhiteSpace(s.Host))
            {
                errors.Add($"{P}{key}:Host must be a host name or address, got an empty value");
                continue;
            }

            Range(errors, key + ":Port", s.Port, 1, 65535);
        }

        for (int i = 0; i < o.TurnServers.Count; i++)
        {
            TurnServerOptions t = o.TurnServers[i];
            string key = $"TurnServers:{i.ToString(CultureInfo.InvariantCulture)}";
            if (t is null || string.IsNullOrWhiteSpace(t.Host))
            {
                errors.Add($"{P}{key}:Host must be a host name or address, got an empty value");
                continue;
            }

            Range(errors, key + ":Port", t.Port, 1, 65535);
            bool longTerm = !string.IsNullOrEmpty(t.Username) && !string.IsNullOrEmpty(t.Password);
            bool rest = !string.IsNullOrEmpty(t.SharedSecret);
            if (longTerm == rest)
            {
                errors.Add($"{P}{key} must have either Username and Password (long-term credentials) or SharedSecret (REST credentials), not {(rest ? "both" : "neither")}");
            }
        }

        return errors;
    }

    private static void Range(List<string> errors, string key, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{P}{key} must be between {min} and {max}, got {value}"));
        }
    }

    private static void Duration(List<string> errors, string key, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{P}{key} must be between {min:c} and {max:c}, got {value:c}"));
        }
    }
}
