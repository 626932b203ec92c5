using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Ipop.Tincan.Api.Internal;

namespace Ipop.Tincan.Api;

// Structured overlays in TAP mode (ring.set): the ring positions that make a tap interface's frames cross members
// (docs/routing.md, "TAP mode"). They belong to the interface's router, like routes: kept per peer so a re-created link
// gets its position again, dropped with the link or the interface.
public sealed partial class ControllerApiServer
{
    private const string PositionExpected =
        "a ring position as a string of 16 hex digits such as \"8000000000000000\" (64 bits; a JSON number loses precision above 2^53)";

    private ImmutableSortedDictionary<string, ulong> _ringPositions = ImmutableSortedDictionary.Create<string, ulong>(StringComparer.Ordinal);

    private Result SetRingPosition(ArgReader args)
    {
        ulong position = ReadPosition(args);
        PeerId? peer = args.Has("peer") ? ReadPeer(args) : null;
        InterfaceInfo nic = Volatile.Read(ref _nicInfo)
            ?? throw new ApiException(ApiErrorCodes.InvalidState, "There is no interface yet; ring positions belong to a tap interface's switch, so call interface.create with \"mode\":\"tap\" first.");
        if (nic.Mode != "tap")
        {
            throw new ApiException(
                ApiErrorCodes.InvalidState,
                $"Interface {nic.Name} is a tun interface: ring positions are for a tap interface, whose frames cross members by ring position. A tun interface forwards by route kinds (route.set with \"kind\":\"forward\", \"local\" and \"unreachable\").");
        }

        ITincanLink? link = null;
        if (peer is { } member && !_tincan.TryGetLink(member, out link))
        {
            throw NoLink(member);
        }

        try
        {
            if (link is null)
            {
                _router!.SetRingPosition(position);
            }
            else
            {
                _router!.SetRingPosition(link, position);
            }
        }
        catch (NotSupportedException e)
        {
            throw new ApiException(ApiErrorCodes.Unsupported, $"The host's router cannot take ring positions: {e.Message}");
        }

        string text = FormatPosition(position);
        if (peer is { } p)
        {
            Volatile.Write(ref _ringPositions, _ringPositions.SetItem(p.Value, position));
        }
        else
        {
            Volatile.Write(ref _nicInfo, nic with { RingPosition = text });
        }

        return Of(new RingResult(peer?.Value, text), ApiJsonContext.Wire.RingResult);
    }

    /// <summary>Gives a re-created link object the position its member had (the router forgot it with the old link).</summary>
    private void ReapplyRingPosition(PeerId peer, ITincanLink link)
    {
        if (_router is { } router && _ringPositions.TryGetValue(peer.Value, out ulong position))
        {
            router.SetRingPosition(link, position);
        }
    }

    /// <summary>The position set for <paramref name="peer"/>'s member, as shown in the link object; <c>null</c> when none.</summary>
    private string? RingPositionOf(PeerId peer) =>
        Volatile.Read(ref _ringPositions).TryGetValue(peer.Value, out ulong position) ? FormatPosition(position) : null;

    private static ulong ReadPosition(ArgReader args)
    {
        if (!args.TryGet("position", out JsonElement e))
        {
            throw ArgReader.Invalid("position", PositionExpected, "nothing");
        }

        if (e.ValueKind != JsonValueKind.String)
        {
            throw ArgReader.Invalid("position", PositionExpected, ArgReader.Describe(e));
        }

        string text = ArgReader.Text(e, "args.position");
        // AllowHexSpecifier alone: no sign, no "0x", no white space; the length check makes leading zeros explicit.
        return text.Length == 16 && ulong.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong position)
            ? position
            : throw ArgReader.Invalid("position", PositionExpected, ArgReader.Quote(text));
    }

    private static string FormatPosition(ulong position) => position.ToString("x16", CultureInfo.InvariantCulture);
}
