namespace Ipop.Tincan.Api.Internal;

/// <summary>The event kinds a client can subscribe to (<c>events.subscribe</c>).</summary>
[Flags]
internal enum EventKinds
{
    None = 0,
    LinkState = 1,
    ControlMessage = 2,
    Stats = 4,
    Log = 8,
}

internal static class EventKindNames
{
    public const string LinkState = "link_state";
    public const string ControlMessage = "control_message";
    public const string Stats = "stats";
    public const string Log = "log";
    public const string EventsDropped = "events_dropped";

    public static readonly string[] Subscribable = [LinkState, ControlMessage, Stats, Log];

    public static EventKinds? Parse(string name) => name switch
    {
        LinkState => EventKinds.LinkState,
        ControlMessage => EventKinds.ControlMessage,
        Stats => EventKinds.Stats,
        Log => EventKinds.Log,
        _ => null,
    };

    public static string[] Names(EventKinds kinds) => [.. Subscribable.Where(n => (kinds & Parse(n)!.Value) != 0)];
}
