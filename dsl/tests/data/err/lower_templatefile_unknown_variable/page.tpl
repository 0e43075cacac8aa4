<h1>${titel}</h1>
