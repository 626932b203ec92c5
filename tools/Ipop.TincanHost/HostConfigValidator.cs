using System.Net;
using System.Net.NetworkInformation;
using Microsoft.Extensions.Configuration;

namespace Ipop.TincanHost;

/// <summary>Checks a <see cref="HostConfig"/> up front and names the key at fault, so a typo never becomes a silent misconfiguration.</summary>
internal static class HostConfigValidator
{
    /// <summary>
    /// Top-level keys of earlier versions and what they became. The generic "not a known key" would leave the user to
    /// guess that <c>Api</c> and <c>ControllerApi</c> are the same section; the section's settings did not change.
    /// </summary>
    private static readonly (string Old, string New)[] Renamed = [("Api", "ControllerApi")];

    /// <summary>
    /// Replaces the strict check's "not a known key" for a renamed section with one line that names the new key.
    /// </summary>
    public static void ExplainRenamedKeys(IConfiguration json, List<string> errors)
    {
        foreach ((string old, string now) in Renamed)
        {
            // As the file spells it (keys match case-insensitively).
            string? key = json.GetChildren().FirstOrDefault(c => string.Equals(c.Key, old, StringComparison.OrdinalIgnoreCase))?.Key;
            if (key is null)
            {
                continue;
            }

            string message = $"{key} is now called {now} (the same settings: SocketPath, MaxClients, ...; see docs/controller-api.md); rename the section to \"{now}\".";
            int at = errors.FindIndex(e => e.StartsWith($"{key} is not a known key;", StringComparison.Ordinal));
            if (at >= 0)
            {
                errors[at] = message;
            }
            else
            {
                errors.Add(message);
            }
        }
    }

    public static IReadOnlyList<string> Validate(HostConfig config)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(config.Tincan.PrivateKeyPath))
        {
            errors.Add("Tincan:PrivateKeyPath is required (the node's key file; created with mode 0600 if missing).");
        }

        // The rest of the Tincan and ControllerApi sections is checked by the library's own validators when the host
        // starts, before any service runs (ValidateOnStart): one list of lines, exit 2, nothing created yet.
        if (config.Interface is null && config.ControllerApi is null)
        {
            errors.Add("Either Interface (a virtual interface with static Peers) or ControllerApi:SocketPath (an external controller) is required.");
        }

        if (config.Interface is null)
        {
            if (config.Peers.Count > 0)
            {
                errors.Add("Peers need an Interface section: static peers are linked to this node's own virtual interface.");
            }

            return errors;
        }

        if (config.Interface.Mode is not ("tun" or "tap"))
        {
            errors.Add($"Interface:Mode must be 'tun' or 'tap', got '{config.Interface.Mode}'.");
        }

        if (config.Interface.Name.Length is 0 or > 15)
        {
            errors.Add($"Interface:Name must be 1..15 characters, got '{config.Interface.Name}'.");
        }

        if (config.Interface.Mtu is < 576 or > 9000)
        {
            errors.Add($"Interface:Mtu must be between 576 and 9000, got {config.Interface.Mtu}.");
        }

        for (int i = 0; i < config.Interface.Addresses.Count; i++)
        {
            if (!InterfaceAddress.TryParse(config.Interface.Addresses[i], out _))
            {
                errors.Add($"Interface:Addresses:{i} must be an address with prefix such as 198.19.0.1/24, got '{config.Interface.Addresses[i]}'.");
            }
        }

        if (config.Interface.MacAddress is { Length: > 0 } mac && !PhysicalAddress.TryParse(mac, out _))
        {
            errors.Add($"Interface:MacAddress must be a MAC address such as 02:00:00:00:00:01, got '{mac}'.");
        }

        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < config.Peers.Count; i++)
        {
            PeerSection p = config.Peers[i];
            string at = $"Peers:{i}";
            if (string.IsNullOrWhiteSpace(p.Id))
            {
                errors.Add($"{at}:Id is required.");
            }
            else if (!ids.Add(p.Id))
            {
                errors.Add($"{at}:Id '{p.Id}' is used by another peer.");
            }

            if (!NodePublicKey.TryParse(p.PublicKey, out _))
            {
                errors.Add($"{at}:PublicKey must be base64 of a 32-byte X25519 public key, got '{p.PublicKey}'.");
            }

            if (!IPEndPoint.TryParse(p.Endpoint, out IPEndPoint? ep) || ep.Port == 0)
            {
                errors.Add($"{at}:Endpoint must be address:port such as 198.18.0.2:51820, got '{p.Endpoint}'.");
            }

            if (config.Interface.Mode == "tun" && p.AllowedIps.Count == 0)
            {
                errors.Add($"{at}:AllowedIps must list at least one prefix in tun mode (which virtual addresses live behind this peer).");
            }

            for (int j = 0; j < p.AllowedIps.Count; j++)
            {
                if (!IPNetwork.TryParse(p.AllowedIps[j], out _))
                {
                    errors.Add($"{at}:AllowedIps:{j} must be a network prefix such as 198.19.0.2/32, got '{p.AllowedIps[j]}'.");
                }
            }
        }

        return errors;
    }
}
