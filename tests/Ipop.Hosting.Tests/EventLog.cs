namespace Ipop.Hosting.Tests;

/// <summary>What the fakes did, in order, shared by the fakes of one test.</summary>
internal sealed class EventLog
{
    private readonly List<string> _events = [];

    public void Add(string e)
    {
        lock (_events)
        {
            _events.Add(e);
        }
    }

    public IReadOnlyList<string> Snapshot()
    {
        lock (_events)
        {
            return [.. _events];
        }
    }
}
