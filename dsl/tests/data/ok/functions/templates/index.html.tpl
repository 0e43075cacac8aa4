<h1>${name}</h1>
<p>port ${ port }, literal $${name}, dollar $5</p>
